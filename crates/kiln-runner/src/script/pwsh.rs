//! The PowerShell renderer (`pwsh`, and Windows `powershell`).
//!
//! Each command is followed by an exit-status check, as GitLab Runner's PowerShell writer
//! does, because PowerShell does not stop on a failing native command by itself.

use crate::script::ScriptWriter;
use crate::script::escape::pwsh as q;

/// Renders PowerShell.
#[derive(Debug, Default)]
pub struct PwshWriter {
    body: String,
    indent: usize,
}

const CHECK: &str = "if(!$?) { Exit &{if($LASTEXITCODE) {$LASTEXITCODE} else {1}} }";

impl PwshWriter {
    /// A new writer.
    pub fn new() -> PwshWriter {
        PwshWriter::default()
    }

    fn push(&mut self, line: &str) {
        for _ in 0..self.indent {
            self.body.push_str("  ");
        }
        self.body.push_str(line);
        self.body.push('\n');
    }

    fn argv(program: &str, args: &[&str]) -> String {
        let mut s = format!("& {}", q(program));
        for a in args {
            s.push(' ');
            s.push_str(&q(a));
        }
        s
    }
}

impl ScriptWriter for PwshWriter {
    fn command(&mut self, program: &str, args: &[&str]) {
        let line = Self::argv(program, args);
        self.push(&line);
        self.push(CHECK);
    }

    fn line(&mut self, code: &str) {
        self.push(code);
    }

    fn user_command(&mut self, code: &str) {
        let code = code.trim_end_matches('\n');
        self.colored(crate::trace::ansi::BOLD_GREEN, &crate::script::shown_command(code));
        self.push(code);
        self.push(CHECK);
    }

    fn variable(&mut self, key: &str, value: &str) {
        self.push(&format!("${{env:{key}}}={}", q(value)));
    }

    fn write_file(&mut self, path: &str, content: &str) {
        self.push(&format!("[System.IO.File]::WriteAllText({}, {})", q(path), q(content)));
    }

    fn source_env_file(&mut self, path: &str) {
        self.push(&format!("if (Test-Path -PathType Leaf {}) {{", q(path)));
        self.push(&format!(
            "  Get-Content {} | ForEach-Object {{ $k, $v = $_ -split '=', 2; if ($v -ne $null) {{ [Environment]::SetEnvironmentVariable($k, $v) }} }}",
            q(path)
        ));
        self.push("}");
    }

    fn cd(&mut self, path: &str) {
        self.push(&format!("cd {}", q(path)));
        self.push(CHECK);
    }

    fn mkdir(&mut self, path: &str) {
        self.push(&format!("New-Item -ItemType directory -Force -Path {} | out-null", q(path)));
    }

    fn rm_dir(&mut self, path: &str) {
        self.push(&format!("if( (Get-Item -ErrorAction SilentlyContinue -Path {p}) ) {{ Remove-Item -Force -Recurse -Path {p} }}", p = q(path)));
    }

    fn rm_file(&mut self, path: &str) {
        self.push(&format!(
            "if( (Get-Item -ErrorAction SilentlyContinue -Path {p}) ) {{ Remove-Item -Force -Path {p} }}",
            p = q(path)
        ));
    }

    fn if_directory(&mut self, path: &str) {
        self.push(&format!("if(Test-Path {} -PathType Container) {{", q(path)));
        self.indent += 1;
    }

    fn if_file(&mut self, path: &str) {
        self.push(&format!("if(Test-Path {}) {{", q(path)));
        self.indent += 1;
    }

    fn if_cmd(&mut self, program: &str, args: &[&str]) {
        let line = Self::argv(program, args);
        self.push(&format!("{line} 2>$null | Out-Null"));
        self.push("if($?) {");
        self.indent += 1;
    }

    fn if_cmd_with_output(&mut self, program: &str, args: &[&str]) {
        let line = Self::argv(program, args);
        self.push(&line);
        self.push("if($?) {");
        self.indent += 1;
    }

    fn else_branch(&mut self) {
        self.indent = self.indent.saturating_sub(1);
        self.push("} else {");
        self.indent += 1;
    }

    fn end_if(&mut self) {
        self.indent = self.indent.saturating_sub(1);
        self.push("}");
    }

    fn echo(&mut self, text: &str) {
        self.push(&format!("Write-Output {}", q(text)));
    }

    fn colored(&mut self, color: &str, text: &str) {
        // `[char]27` keeps the escape byte out of the quoted text.
        let color = color.trim_start_matches('\x1b');
        self.push(&format!("Write-Output (\"$([char]27){color}\" + {} + \"$([char]27)[0;m\")", q(text)));
    }

    fn finish(&self, trace: bool) -> String {
        let mut s = String::new();
        s.push_str("$ErrorActionPreference = \"Stop\"\n");
        if trace {
            s.push_str("Set-PSDebug -Trace 2\n");
        }
        s.push_str("& {\n");
        s.push_str(&self.body);
        s.push_str("}\n");
        s.push_str("if(!$?) { Exit &{if($LASTEXITCODE) {$LASTEXITCODE} else {1}} }\n");
        s
    }
}
