//! Image and service names: Docker's reference grammar (so a hostile `image:` never
//! reaches the engine), GitLab Runner's service name split with the aliases it derives,
//! user aliases, and `allowed_images` / `allowed_services` patterns.

use regex::Regex;

/// Docker's `reference.ReferenceRegexp` (distribution/reference), anchored; groups are
/// the name, the tag and the digest.
#[derive(Debug, Clone)]
pub struct ReferenceGrammar {
    reference: Regex,
    no_port: Regex,
}

/// The longest name Docker accepts.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

impl Default for ReferenceGrammar {
    fn default() -> Self {
        Self::new()
    }
}

impl ReferenceGrammar {
    /// Compiles the grammar.
    pub fn new() -> ReferenceGrammar {
        let dc = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
        let domain = format!(r"(?:{dc}(?:\.{dc})*(?::[0-9]+)?)");
        let alnum = "[a-z0-9]+";
        let sep = "(?:[._]|__|[-]*)";
        let component = format!("{alnum}(?:{sep}{alnum})*");
        let name = format!("(?:{domain}/)?{component}(?:/{component})*");
        let tag = "[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
        let digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
        let reference = format!("^({name})(?::({tag}))?(?:@({digest}))?$");
        // The patterns are constants: compiling them cannot fail.
        #[allow(clippy::unwrap_used)]
        ReferenceGrammar {
            reference: Regex::new(&reference).unwrap(),
            no_port: Regex::new("^(.*?)(|:[0-9]+)(|/.*)$").unwrap(),
        }
    }

    /// Splits a reference into name, tag and digest; `None` when it is not one.
    pub fn parse<'a>(&self, s: &'a str) -> Option<(&'a str, Option<&'a str>, Option<&'a str>)> {
        let caps = self.reference.captures(s)?;
        let name = caps.get(1)?.as_str();
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return None;
        }
        // As Docker normalizes: a first component is a registry only when it looks like a
        // host; otherwise it is a repository path, which must be lowercase.
        if let Some((first, _)) = name.split_once('/')
            && !(first.contains('.') || first.contains(':') || first == "localhost")
            && first.chars().any(|c| c.is_ascii_uppercase())
        {
            return None;
        }
        Some((name, caps.get(2).map(|m| m.as_str()), caps.get(3).map(|m| m.as_str())))
    }

    /// Whether `s` is an image reference the engine would accept.
    pub fn is_valid(&self, s: &str) -> bool {
        self.parse(s).is_some()
    }

    /// GitLab Runner's `services.SplitNameAndVersion`.
    pub fn split_service(&self, description: &str) -> ServiceName {
        let Some((name, tag, digest)) = self.parse(description) else {
            return ServiceName {
                service: String::new(),
                version: "latest".into(),
                image: description.into(),
                aliases: Vec::new(),
            };
        };
        let (registry, path) = match self.no_port.captures(name) {
            Some(c) => (
                c.get(1).map_or("", |m| m.as_str()).to_string(),
                c.get(3).map_or("", |m| m.as_str()).to_string(),
            ),
            None => (name.to_string(), String::new()),
        };
        let service = format!("{registry}{path}");
        let (version, image) = match (tag, digest) {
            (Some(t), _) => (t.to_string(), description.to_string()),
            (None, Some(d)) => (format!("@{d}"), description.to_string()),
            (None, None) => ("latest".to_string(), format!("{name}:latest")),
        };
        let alias = service.replace('/', "__");
        let alternative = service.replace('/', "-");
        let mut aliases = vec![alias.clone()];
        if alternative != alias {
            aliases.push(alternative);
        }
        ServiceName { service, version, image, aliases }
    }
}

/// A service image split as GitLab Runner does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceName {
    /// The name without port and tag (`domain.tld/namespace/service`); empty when the
    /// description is not a valid reference.
    pub service: String,
    pub version: String,
    /// The image to pull (`:latest` added when there is no tag).
    pub image: String,
    /// `domain.tld__namespace__service` and `domain.tld-namespace-service`.
    pub aliases: Vec<String>,
}

/// A service's `alias:` may name several aliases, separated by commas or spaces.
pub fn user_aliases(alias: Option<&str>) -> Vec<String> {
    alias.unwrap_or("").replace(',', " ").split_whitespace().map(str::to_string).collect()
}

/// Whether an image passes `allowed_images` / `allowed_services` (doublestar patterns);
/// `internal` images (the runner's own defaults) always pass; an empty list allows all.
pub fn is_allowed(image: &str, allowed: &[String], internal: &[String]) -> bool {
    if allowed.is_empty() || internal.iter().any(|i| i == image) {
        return true;
    }
    allowed.iter().any(|pattern| {
        globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .is_ok_and(|g| g.compile_matcher().is_match(image))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_split_as_gitlab_runner_does() {
        let g = ReferenceGrammar::new();
        let digest = "sha256:123456789012345678901234567890123456789012345678901234567890abcd";
        // (description, image, service, version, alias, alternative) from GitLab Runner's table.
        let cases: Vec<(String, String, &str, String, &str, &str)> = vec![
            ("service".into(), "service:latest".into(), "service", "latest".into(), "service", ""),
            ("service:version".into(), "service:version".into(), "service", "version".into(), "service", ""),
            (
                "namespace/service".into(),
                "namespace/service:latest".into(),
                "namespace/service",
                "latest".into(),
                "namespace__service",
                "namespace-service",
            ),
            (
                "domain.tld:8080/namespace/service:version".into(),
                "domain.tld:8080/namespace/service:version".into(),
                "domain.tld/namespace/service",
                "version".into(),
                "domain.tld__namespace__service",
                "domain.tld-namespace-service",
            ),
            (
                "subdomain.domain.tld:8080/service".into(),
                "subdomain.domain.tld:8080/service:latest".into(),
                "subdomain.domain.tld/service",
                "latest".into(),
                "subdomain.domain.tld__service",
                "subdomain.domain.tld-service",
            ),
            (
                format!("namespace/service@{digest}"),
                format!("namespace/service@{digest}"),
                "namespace/service",
                format!("@{digest}"),
                "namespace__service",
                "namespace-service",
            ),
        ];
        for (desc, image, service, version, alias, alternative) in cases {
            let s = g.split_service(&desc);
            assert_eq!(s.image, image, "{desc}");
            assert_eq!(s.service, service, "{desc}");
            assert_eq!(s.version, version, "{desc}");
            let mut want = vec![alias.to_string()];
            if !alternative.is_empty() {
                want.push(alternative.to_string());
            }
            assert_eq!(s.aliases, want, "{desc}");
        }
    }

    #[test]
    fn hostile_names_are_not_references() {
        let g = ReferenceGrammar::new();
        for bad in [
            "",
            "../../etc/passwd",
            "busybox; rm -rf /",
            "$(touch /tmp/x)",
            "busybox\n--privileged",
            "UPPER/case",
            "-flag",
            "a//b",
            "name:tag:tag",
            "busybox:-x",
            &"a".repeat(300),
        ] {
            assert!(!g.is_valid(bad), "{bad:?}");
            assert_eq!(g.split_service(bad).service, "", "{bad:?}");
        }
        for good in
            ["busybox", "library/busybox:1.36", "127.0.0.1:5000/kiln/busybox:v1", "Registry.Example/x"]
        {
            assert!(g.is_valid(good), "{good}");
        }
    }

    #[test]
    fn aliases_and_allowed_patterns() {
        assert_eq!(user_aliases(Some("db, pg  postgres")), ["db", "pg", "postgres"]);
        assert!(user_aliases(None).is_empty());
        let allowed = vec!["docker.io/library/*".to_string(), "kiln-test/**".to_string()];
        assert!(is_allowed("docker.io/library/alpine", &allowed, &[]));
        assert!(!is_allowed("docker.io/library/a/b", &allowed, &[]));
        assert!(is_allowed("kiln-test/a/b:1", &allowed, &[]));
        assert!(!is_allowed("evil/image", &allowed, &[]));
        assert!(is_allowed("evil/image", &allowed, &["evil/image".to_string()]));
        assert!(is_allowed("anything", &[], &[]));
    }
}
