//! The bash and POSIX sh renderer.
//!
//! The script shape follows GitLab Runner's `shells/bash.go`: `pipefail` when the shell has
//! it, `errexit`, no `noclobber`, and the body embedded as one quoted string that runs via
//! `eval` in a subshell with `trap 'exit 1' TERM`, stdin from `/dev/null`.

use crate::script::ScriptWriter;
use crate::script::escape;
use crate::trace::ansi;

/// Renders bash (`posix == false`) or POSIX sh.
#[derive(Debug)]
pub struct BashWriter {
    posix: bool,
    body: String,
    indent: usize,
}

impl BashWriter {
    /// A new writer.
    pub fn new(posix: bool) -> BashWriter {
        BashWriter { posix, body: String::new(), indent: 0 }
    }

    fn q(&self, s: &str) -> String {
        if self.posix { escape::posix(s) } else { escape::bash(s) }
    }

    fn push(&mut self, line: &str) {
        for _ in 0..self.indent {
            self.body.push_str("  ");
        }
        self.body.push_str(line);
        self.body.push('\n');
    }

    fn argv(&self, program: &str, args: &[&str]) -> String {
        let mut s = self.q(program);
        for a in args {
            s.push(' ');
            s.push_str(&self.q(a));
        }
        s
    }
}

impl ScriptWriter for BashWriter {
    fn command(&mut self, program: &str, args: &[&str]) {
        let line = self.argv(program, args);
        self.push(&line);
    }

    fn line(&mut self, code: &str) {
        self.push(code);
    }

    fn user_command(&mut self, code: &str) {
        let code = code.trim_end_matches('\n');
        self.colored(ansi::BOLD_GREEN, &crate::script::shown_command(code));
        self.push(code);
    }

    fn variable(&mut self, key: &str, value: &str) {
        let line = format!("export {}={}", self.q(key), self.q(value));
        self.push(&line);
    }

    fn write_file(&mut self, path: &str, content: &str) {
        let line = format!("printf '%s' {} > {}", self.q(content), self.q(path));
        self.push(&line);
    }

    fn source_env_file(&mut self, path: &str) {
        let p = self.q(path);
        self.push(&format!("if [ -f {p} ]; then"));
        self.push(&format!("  while IFS= read -r kiln_env_line || [ -n \"$kiln_env_line\" ]; do case \"$kiln_env_line\" in *=*) export \"$kiln_env_line\" ;; esac; done < {p}"));
        self.push("fi");
    }

    fn cd(&mut self, path: &str) {
        let line = format!("cd {}", self.q(path));
        self.push(&line);
    }

    // `mkdir` and `rm` are programs: the `[` builtin spares a process when there is
    // nothing to do, which is most of the time (a stage starts with several of each).
    fn mkdir(&mut self, path: &str) {
        let p = self.q(path);
        self.push(&format!("[ -d {p} ] || mkdir -p {p}"));
    }

    fn rm_dir(&mut self, path: &str) {
        let p = self.q(path);
        self.push(&format!("if [ -e {p} ] || [ -L {p} ]; then rm -r -f {p}; fi"));
    }

    fn rm_file(&mut self, path: &str) {
        let p = self.q(path);
        self.push(&format!("if [ -e {p} ] || [ -L {p} ]; then rm -f {p}; fi"));
    }

    fn if_directory(&mut self, path: &str) {
        let line = format!("if [ -d {} ]; then", self.q(path));
        self.push(&line);
        self.indent += 1;
    }

    fn if_file(&mut self, path: &str) {
        let line = format!("if [ -e {} ]; then", self.q(path));
        self.push(&line);
        self.indent += 1;
    }

    fn if_cmd(&mut self, program: &str, args: &[&str]) {
        let line = format!("if {} >/dev/null 2>&1; then", self.argv(program, args));
        self.push(&line);
        self.indent += 1;
    }

    fn if_cmd_with_output(&mut self, program: &str, args: &[&str]) {
        let line = format!("if {}; then", self.argv(program, args));
        self.push(&line);
        self.indent += 1;
    }

    fn else_branch(&mut self) {
        self.indent = self.indent.saturating_sub(1);
        self.push("else");
        self.indent += 1;
    }

    fn end_if(&mut self) {
        self.indent = self.indent.saturating_sub(1);
        self.push("fi");
    }

    fn echo(&mut self, text: &str) {
        let line = format!("echo {}", self.q(text));
        self.push(&line);
    }

    fn colored(&mut self, color: &str, text: &str) {
        let line = format!("echo {}", self.q(&format!("{color}{text}{}", ansi::RESET)));
        self.push(&line);
    }

    fn finish(&self, trace: bool) -> String {
        let mut s = String::new();
        s.push_str(if self.posix { "#!/usr/bin/env sh\n" } else { "#!/usr/bin/env bash\n" });
        s.push('\n');
        s.push_str("trap 'exit 1' TERM\n\n");
        if trace {
            s.push_str("set -o xtrace\n");
        }
        if self.posix {
            s.push_str("if set -o | grep pipefail > /dev/null; then set -o pipefail; fi; set -o errexit\n");
        } else {
            // Every bash has `pipefail`: no pipe and `grep` process per stage to find out.
            s.push_str("set -o pipefail; set -o errexit\n");
        }
        s.push_str("set +o noclobber\n");
        s.push_str(&format!("( trap 'exit 1' TERM; eval {} ) < /dev/null\n", self.q(&self.body)));
        s.push_str("exit 0\n");
        s
    }
}
