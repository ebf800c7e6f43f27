//! Who this runner is: name, version, revision, platform, as reported in `info`.

use kiln_api::{FeaturesInfo, VersionInfo};

/// The runner's name in `info.name`.
pub const NAME: &str = "kiln-runner";
/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The source revision (set `KILN_REVISION` at build time), else `unknown`.
pub const REVISION: &str = match option_env!("KILN_REVISION") {
    Some(r) => r,
    None => "unknown",
};

/// `linux`, `darwin`, ... as Go's `GOOS` names it.
pub fn platform() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// `amd64`, `arm64`, ... as Go's `GOARCH` names it.
pub fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        other => other,
    }
}

/// The features the network layer always supports.
pub fn network_features(f: &mut FeaturesInfo) {
    f.trace_reset = true;
    f.trace_checksum = true;
    f.trace_size = true;
    f.cancelable = true;
    f.cancel_gracefully = true;
    f.two_phase_job_commit = true;
}

/// `info` for an executor and shell.
pub fn version_info(executor: &str, shell: &str, features: FeaturesInfo) -> VersionInfo {
    VersionInfo {
        name: NAME.into(),
        version: VERSION.into(),
        revision: REVISION.into(),
        platform: platform().into(),
        architecture: architecture().into(),
        executor: executor.into(),
        shell: shell.into(),
        features,
        config: Some(kiln_api::request::ConfigInfo::default()),
        labels: Default::default(),
    }
}

/// The `User-Agent` header.
pub fn user_agent() -> String {
    format!("{NAME} {VERSION} ({REVISION}; {}/{})", platform(), architecture())
}
