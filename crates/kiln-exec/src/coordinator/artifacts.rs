//! Artifacts the runner's helper uploads: the archive other jobs download,
//! and reports, of which `dotenv` feeds variables to later jobs.

use std::io::Read;

/// Why a dotenv report was refused (GitLab refuses the upload).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DotenvError {
    #[error("dotenv report is not gzip: {0}")]
    Gzip(String),
    #[error("Invalid Format")]
    Format,
    #[error("Invalid Key")]
    Key,
    #[error("Dotenv files cannot have more than {0} variables")]
    TooMany(usize),
}

/// GitLab's default limit on variables in one dotenv report.
pub const MAX_DOTENV_VARIABLES: usize = 20;

/// Decompresses and parses a `dotenv` report as GitLab's
/// `ParseDotenvArtifactService` does: `KEY=VALUE` lines, names of letters,
/// digits and `_`, both sides stripped of surrounding whitespace, one pair of
/// double quotes removed from the value; a later line wins over an earlier
/// one with the same key.
pub fn parse_dotenv_gzip(gz: &[u8]) -> Result<Vec<(String, String)>, DotenvError> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_string(&mut text)
        .map_err(|e| DotenvError::Gzip(e.to_string()))?;
    parse_dotenv(&text)
}

/// See [`parse_dotenv_gzip`].
pub fn parse_dotenv(text: &str) -> Result<Vec<(String, String)>, DotenvError> {
    let mut vars: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or(DotenvError::Format)?;
        let (key, value) = (key.trim(), value.trim());
        let valid_key = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(DotenvError::Key);
        }
        let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(inner) => inner,
            None => value,
        };
        match vars.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => vars.push((key.to_string(), value.to_string())),
        }
    }
    if vars.len() > MAX_DOTENV_VARIABLES {
        return Err(DotenvError::TooMany(MAX_DOTENV_VARIABLES));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_lines() {
        assert_eq!(
            parse_dotenv("A=1\n\nB = two words \nC=\"quoted\"\nA=3\n").unwrap(),
            vec![("A".into(), "3".into()), ("B".into(), "two words".into()), ("C".into(), "quoted".into())]
        );
        assert_eq!(parse_dotenv("no equals sign"), Err(DotenvError::Format));
        assert_eq!(parse_dotenv("1BAD=x"), Err(DotenvError::Key));
        let many: String = (0..21).map(|i| format!("V{i}=x\n")).collect();
        assert_eq!(parse_dotenv(&many), Err(DotenvError::TooMany(20)));
    }
}
