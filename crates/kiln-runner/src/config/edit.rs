//! Editing `config.toml` in place with `toml_edit`, so comments and layout survive
//! `register`, `unregister`, `verify --delete` and token rotation.

use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// The file could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("failed to write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: `runners` is not an array of tables")]
    Shape { path: PathBuf },
}

/// A runner entry to append.
#[derive(Debug, Clone, Default)]
pub struct NewRunner {
    pub name: String,
    pub url: String,
    pub id: i64,
    pub token: String,
    pub token_obtained_at: Option<toml::value::Datetime>,
    pub token_expires_at: Option<toml::value::Datetime>,
    pub executor: String,
    pub shell: Option<String>,
    pub limit: Option<i64>,
    pub builds_dir: Option<String>,
    pub cache_dir: Option<String>,
    pub environment: Vec<String>,
    /// `[runners.custom]`, written verbatim.
    pub custom: Option<toml::Table>,
    /// `[runners.docker]`, written verbatim.
    pub docker: Option<toml::Table>,
}

/// A sub-table of a runner (`[runners.custom]`, `[runners.docker]`) as an explicit table.
fn sub_table(table: &toml::Table) -> Option<Item> {
    let text = toml::to_string(table).ok()?;
    let doc = text.parse::<DocumentMut>().ok()?;
    let mut sub = doc.as_table().clone();
    sub.set_implicit(false);
    Some(Item::Table(sub))
}

/// Sets (or, with `None`, removes) a key, keeping an existing key's indentation.
fn set(t: &mut Table, key: &str, item: Option<Item>) {
    match (t.get_mut(key), item) {
        (Some(slot), Some(item)) => *slot = item,
        (None, Some(item)) => {
            t.insert(key, item);
        }
        (_, None) => {
            t.remove(key);
        }
    }
}

/// An open `config.toml` being edited.
#[derive(Debug)]
pub struct ConfigEditor {
    path: PathBuf,
    doc: DocumentMut,
}

impl ConfigEditor {
    /// Opens a file; a missing file starts as GitLab Runner's template (`concurrent = 1`,
    /// `check_interval = 0`).
    pub fn open(path: &Path) -> Result<ConfigEditor, EditError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                "concurrent = 1\ncheck_interval = 0\nshutdown_timeout = 0\n\n[session_server]\n  session_timeout = 1800\n".to_string()
            }
            Err(source) => return Err(EditError::Read { path: path.into(), source }),
        };
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| EditError::Parse { path: path.into(), message: e.to_string() })?;
        Ok(ConfigEditor { path: path.to_path_buf(), doc })
    }

    fn runners(&mut self) -> Result<&mut ArrayOfTables, EditError> {
        if !self.doc.contains_key("runners") {
            self.doc.insert("runners", Item::ArrayOfTables(ArrayOfTables::new()));
        }
        self.doc
            .get_mut("runners")
            .and_then(Item::as_array_of_tables_mut)
            .ok_or_else(|| EditError::Shape { path: self.path.clone() })
    }

    /// Appends a `[[runners]]` entry.
    pub fn add_runner(&mut self, r: &NewRunner) -> Result<(), EditError> {
        let mut t = Table::new();
        t.insert("name", value(r.name.as_str()));
        t.insert("url", value(r.url.as_str()));
        t.insert("id", value(r.id));
        t.insert("token", value(r.token.as_str()));
        if let Some(at) = r.token_obtained_at {
            t.insert("token_obtained_at", value(at));
        }
        if let Some(at) = r.token_expires_at {
            t.insert("token_expires_at", value(at));
        }
        t.insert("executor", value(r.executor.as_str()));
        if let Some(shell) = &r.shell {
            t.insert("shell", value(shell.as_str()));
        }
        if let Some(limit) = r.limit {
            t.insert("limit", value(limit));
        }
        if let Some(d) = &r.builds_dir {
            t.insert("builds_dir", value(d.as_str()));
        }
        if let Some(d) = &r.cache_dir {
            t.insert("cache_dir", value(d.as_str()));
        }
        if !r.environment.is_empty() {
            let arr: toml_edit::Array = r.environment.iter().map(String::as_str).collect();
            t.insert("environment", value(arr));
        }
        for (key, table) in [("custom", &r.custom), ("docker", &r.docker)] {
            if let Some(item) = table.as_ref().and_then(sub_table) {
                t.insert(key, item);
            }
        }
        self.runners()?.push(t);
        Ok(())
    }

    /// Removes every runner matching `pred(name, token)`; returns how many were removed.
    pub fn remove_runners(&mut self, pred: impl Fn(&str, &str) -> bool) -> Result<usize, EditError> {
        let runners = self.runners()?;
        let before = runners.len();
        runners.retain(|t| {
            let name = t.get("name").and_then(Item::as_str).unwrap_or("");
            let token = t.get("token").and_then(Item::as_str).unwrap_or("");
            !pred(name, token)
        });
        Ok(before - self.runners()?.len())
    }

    /// Replaces a runner's token and its timestamps (after a reset or rotation).
    pub fn set_token(
        &mut self,
        old_token: &str,
        new_token: &str,
        obtained_at: Option<toml::value::Datetime>,
        expires_at: Option<toml::value::Datetime>,
    ) -> Result<bool, EditError> {
        let mut found = false;
        for t in self.runners()?.iter_mut() {
            if t.get("token").and_then(Item::as_str) == Some(old_token) {
                set(t, "token", Some(value(new_token)));
                set(t, "token_obtained_at", obtained_at.map(value));
                set(t, "token_expires_at", expires_at.map(value));
                found = true;
            }
        }
        Ok(found)
    }

    /// The edited text.
    pub fn to_text(&self) -> String {
        self.doc.to_string()
    }

    /// Writes the file atomically (temporary file + rename), mode 0600.
    pub fn save(&self) -> Result<(), EditError> {
        let err = |source| EditError::Write { path: self.path.clone(), source };
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
        std::io::Write::write_all(&mut tmp, self.to_text().as_bytes()).map_err(err)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600)).map_err(err)?;
        tmp.persist(&self.path).map_err(|e| err(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "# my runners\nconcurrent = 4 # four at once\n\n[[runners]]\n  # the old one\n  name = \"old\"\n  token = \"t-old\"\n").unwrap();
        let mut ed = ConfigEditor::open(&path).unwrap();
        ed.add_runner(&NewRunner {
            name: "new".into(),
            url: "http://x".into(),
            token: "t-new".into(),
            executor: "shell".into(),
            ..Default::default()
        })
        .unwrap();
        ed.set_token("t-old", "t-rotated", None, None).unwrap();
        ed.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("# my runners")
                && text.contains("# four at once")
                && text.contains("# the old one"),
            "{text}"
        );
        assert!(text.contains("t-rotated") && text.contains("name = \"new\""), "{text}");
        let mut ed = ConfigEditor::open(&path).unwrap();
        assert_eq!(ed.remove_runners(|name, _| name == "new").unwrap(), 1);
        ed.save().unwrap();
        let loaded = crate::config::load(&path).unwrap();
        assert_eq!(loaded.config.runners.len(), 1);
        assert_eq!(loaded.config.runners[0].token, "t-rotated");
    }

    #[test]
    fn a_docker_runner_gets_its_docker_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "concurrent = 1\n").unwrap();
        let mut ed = ConfigEditor::open(&path).unwrap();
        let docker: toml::Table =
            toml::from_str("image = \"alpine:3\"\nprivileged = true\nvolumes = [\"/cache\"]").unwrap();
        ed.add_runner(&NewRunner {
            name: "dock".into(),
            url: "http://x".into(),
            token: "t-dock".into(),
            executor: "docker".into(),
            docker: Some(docker.clone()),
            ..Default::default()
        })
        .unwrap();
        ed.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[runners.docker]"), "{text}");
        let loaded = crate::config::load(&path).unwrap();
        assert_eq!(loaded.config.runners[0].docker.as_ref(), Some(&docker));
        assert_eq!(loaded.config.runners[0].executor, "docker");
    }
}
