//! The `FF_*` feature flags the runner understands, with GitLab Runner's defaults.
//!
//! Flags come from `[runners.feature_flags]` in `config.toml` and may be overridden by job
//! variables of the same name; every flag is also exported to the job with its value.

/// A feature flag this runner reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeatureFlag {
    /// Timestamp every log line.
    Timestamps,
    /// Put each multi-line script command in a collapsed section.
    ScriptSections,
    /// Check `$?` after every command in bash.
    EnableBashExitCodeCheck,
    /// Use `: | eval` rather than `( eval ) < /dev/null`.
    UseLegacyBashEval,
    /// Quote with POSIX double quotes instead of ANSI-C quoting.
    PosixlyCorrectEscapes,
    /// Mask all default GitLab token prefixes.
    MaskAllDefaultTokens,
    /// Hash cache keys with SHA-256.
    HashCacheKeys,
    /// Do not rotate expiring runner tokens.
    DisableAutomaticTokenRotation,
    /// Keep the job token out of git remote URLs.
    GitUrlsWithoutTokens,
    /// Leave the umask alone in Docker builds (read by the Docker executor).
    DisableUmaskForDockerExecutor,
}

impl FeatureFlag {
    /// Every flag, in name order.
    pub const ALL: [FeatureFlag; 10] = [
        Self::DisableAutomaticTokenRotation,
        Self::DisableUmaskForDockerExecutor,
        Self::EnableBashExitCodeCheck,
        Self::GitUrlsWithoutTokens,
        Self::HashCacheKeys,
        Self::MaskAllDefaultTokens,
        Self::PosixlyCorrectEscapes,
        Self::ScriptSections,
        Self::Timestamps,
        Self::UseLegacyBashEval,
    ];

    /// The variable / config name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Timestamps => "FF_TIMESTAMPS",
            Self::ScriptSections => "FF_SCRIPT_SECTIONS",
            Self::EnableBashExitCodeCheck => "FF_ENABLE_BASH_EXIT_CODE_CHECK",
            Self::UseLegacyBashEval => "FF_USE_LEGACY_BASH_EVAL",
            Self::PosixlyCorrectEscapes => "FF_POSIXLY_CORRECT_ESCAPES",
            Self::MaskAllDefaultTokens => "FF_MASK_ALL_DEFAULT_TOKENS",
            Self::HashCacheKeys => "FF_HASH_CACHE_KEYS",
            Self::DisableAutomaticTokenRotation => "FF_DISABLE_AUTOMATIC_TOKEN_ROTATION",
            Self::GitUrlsWithoutTokens => "FF_GIT_URLS_WITHOUT_TOKENS",
            Self::DisableUmaskForDockerExecutor => "FF_DISABLE_UMASK_FOR_DOCKER_EXECUTOR",
        }
    }

    /// The default value, as in GitLab Runner 19 (`FF_TIMESTAMPS` is on there).
    pub fn default_value(self) -> bool {
        matches!(self, Self::MaskAllDefaultTokens | Self::Timestamps)
    }

    /// Looks a flag up by name.
    pub fn from_name(name: &str) -> Option<FeatureFlag> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// GitLab's token prefixes masked when `FF_MASK_ALL_DEFAULT_TOKENS` is on (`glpat-` is
/// always masked).
pub const DEFAULT_TOKEN_PREFIXES: [&str; 14] = [
    "glpat-",
    "gloas-",
    "gldt-",
    "glrt-",
    "glcbt-",
    "glrtr-",
    "glptt-",
    "glft-",
    "glimt-",
    "glagent-",
    "glsoat-",
    "glffct-",
    "_gitlab_session=",
    "gltok-",
];
