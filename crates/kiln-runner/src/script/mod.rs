//! Script generation: a small IR ([`ScriptWriter`]) with renderers for bash, sh and
//! PowerShell, and one builder per stage.
//!
//! Like GitLab Runner's `ShellWriter`, stage builders only call writer methods; renderers
//! own all syntax and quoting. Every stage becomes one script, run by the executor in a
//! fresh shell; state passes between stages only through the file system.

mod bash;
pub mod escape;
pub mod native;
mod pwsh;
pub mod stages;

use std::fmt;

use crate::trace::ansi;

pub use bash::BashWriter;
pub use pwsh::PwshWriter;

/// The shells scripts can be rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShellKind {
    Bash,
    Sh,
    Pwsh,
    /// Windows PowerShell: rendered as `pwsh`, started as `powershell`.
    Powershell,
}

impl ShellKind {
    /// Parses a `shell` setting.
    pub fn parse(s: &str) -> Option<ShellKind> {
        match s {
            "bash" => Some(Self::Bash),
            "sh" => Some(Self::Sh),
            "pwsh" => Some(Self::Pwsh),
            "powershell" => Some(Self::Powershell),
            _ => None,
        }
    }

    /// The setting's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bash => "bash",
            Self::Sh => "sh",
            Self::Pwsh => "pwsh",
            Self::Powershell => "powershell",
        }
    }

    /// A fresh writer for this shell.
    pub fn writer(self) -> Box<dyn ScriptWriter> {
        match self {
            Self::Bash => Box::new(BashWriter::new(false)),
            Self::Sh => Box::new(BashWriter::new(true)),
            Self::Pwsh | Self::Powershell => Box::new(PwshWriter::new()),
        }
    }

    /// The file extension of generated scripts.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Bash | Self::Sh => "sh",
            Self::Pwsh | Self::Powershell => "ps1",
        }
    }

    /// The program and arguments that run a script file.
    pub fn command(self, script: &str) -> Vec<String> {
        match self {
            Self::Bash => vec!["bash".into(), script.into()],
            Self::Sh => vec!["sh".into(), script.into()],
            Self::Pwsh | Self::Powershell => vec![
                self.name().into(),
                "-NoProfile".into(),
                "-NonInteractive".into(),
                "-ExecutionPolicy".into(),
                "Bypass".into(),
                "-File".into(),
                script.into(),
            ],
        }
    }
}

impl fmt::Display for ShellKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a user command is echoed: `$ <command>`, or its first line with
/// `# collapsed multi-line command`.
pub(crate) fn shown_command(code: &str) -> String {
    match code.split_once('\n') {
        Some((first, _)) => format!("$ {first} # collapsed multi-line command"),
        None => format!("$ {code}"),
    }
}

/// The script IR. Paths and values are plain strings; renderers quote them.
pub trait ScriptWriter: Send {
    /// Runs a program with arguments (each argument quoted).
    fn command(&mut self, program: &str, args: &[&str]);
    /// A line of user-written shell code, inserted as is.
    fn line(&mut self, code: &str);
    /// Echoes a user command in green (`$ command`) and runs it; a multi-line command is
    /// echoed as its first line with `# collapsed multi-line command`.
    fn user_command(&mut self, code: &str);
    /// Exports a variable with a literal value.
    fn variable(&mut self, key: &str, value: &str);
    /// Writes `content` to `path` (no trailing newline added).
    fn write_file(&mut self, path: &str, content: &str);
    /// Exports every `KEY=value` line of a dotenv file, if it exists (`GITLAB_ENV`).
    fn source_env_file(&mut self, path: &str);
    /// Changes directory.
    fn cd(&mut self, path: &str);
    /// Creates a directory and its parents.
    fn mkdir(&mut self, path: &str);
    /// Removes a directory tree.
    fn rm_dir(&mut self, path: &str);
    /// Removes a file.
    fn rm_file(&mut self, path: &str);
    /// `if [ -d path ]`.
    fn if_directory(&mut self, path: &str);
    /// `if [ -f path ]`.
    fn if_file(&mut self, path: &str);
    /// `if program args...` (success of the command), its output discarded.
    fn if_cmd(&mut self, program: &str, args: &[&str]);
    /// `if program args...` with the command's output in the log.
    fn if_cmd_with_output(&mut self, program: &str, args: &[&str]);
    /// `else`.
    fn else_branch(&mut self);
    /// `fi`.
    fn end_if(&mut self);
    /// A plain line of output.
    fn echo(&mut self, text: &str);
    /// A line of output in an ANSI colour (reset after it).
    fn colored(&mut self, color: &str, text: &str);
    /// A green notice.
    fn notice(&mut self, text: &str) {
        self.colored(ansi::BOLD_GREEN, text);
    }
    /// A yellow warning.
    fn warning(&mut self, text: &str) {
        self.colored(ansi::YELLOW, &format!("WARNING: {text}"));
    }
    /// A red error.
    fn error(&mut self, text: &str) {
        self.colored(ansi::BOLD_RED, &format!("ERROR: {text}"));
    }
    /// The finished script; `trace` turns on command tracing (`CI_DEBUG_TRACE`).
    fn finish(&self, trace: bool) -> String;
}
