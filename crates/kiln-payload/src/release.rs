//! The `release` step's script, as GitLab's `Gitlab::Ci::Build::Releaser`
//! writes it for Unix runners: `glab release create` when a recent `glab` is
//! installed, `release-cli create` otherwise.

use kiln_config::plan::spec::ReleaseSpec;

const GLAB_REQUIRED_VERSION: &str = "1.58.0";
const GLAB_WARNING: &str = "Warning: release-cli will not be supported after 20.0. Please use glab version >= 1.58.0. \
     Troubleshooting: https://docs.gitlab.com/user/project/releases/#gitlab-cli-version-requirement";
const GLAB_CA_CERT_FILENAME: &str = "ca_cert_for_releasing_with_glab.pem";

/// The one-line list GitLab sends as the step's `script`.
pub(crate) fn script(release: &ReleaseSpec) -> Vec<String> {
    let ca_config = format!(
        "if [ -n \"$ADDITIONAL_CA_CERT_BUNDLE\" ]; then\n  echo \"Setting CA certificate for $CI_SERVER_FQDN\"\n\n  \
         if echo \"$ADDITIONAL_CA_CERT_BUNDLE\" | grep -q $'\\\\n'; then\n    \
         echo \"$ADDITIONAL_CA_CERT_BUNDLE\" > \"{GLAB_CA_CERT_FILENAME}\"\n    \
         glab config set ca_cert \"{GLAB_CA_CERT_FILENAME}\" --host \"$CI_SERVER_FQDN\"\n  else\n    \
         glab config set ca_cert \"$ADDITIONAL_CA_CERT_BUNDLE\" --host \"$CI_SERVER_FQDN\"\n  fi\nfi"
    );
    let ca_cleanup =
        format!("if [ -f \"{GLAB_CA_CERT_FILENAME}\" ]; then\n  rm -f \"{GLAB_CA_CERT_FILENAME}\"\nfi");
    let text = format!(
        "if command -v glab &> /dev/null; then\n  \
         if [ \"$(printf \"%s\\\\n%s\" \"{GLAB_REQUIRED_VERSION}\" \"$(glab --version | grep -oE '[0-9]+\\\\.[0-9]+\\\\.[0-9]+')\" | sort -V | head -n1)\" = \"{GLAB_REQUIRED_VERSION}\" ]; then\n    \
         export GITLAB_HOST=$CI_SERVER_URL\n{ca_config}\n    \
         glab auth login --job-token $CI_JOB_TOKEN --hostname \"$CI_SERVER_FQDN\" --api-protocol $CI_SERVER_PROTOCOL\n    \
         {glab}\n{ca_cleanup}\n  else\n    echo \"{GLAB_WARNING}\"\n\n    {cli}\n  fi\nelse\n  \
         echo \"{GLAB_WARNING}\"\n\n  {cli}\nfi\n",
        ca_config = indent(&ca_config, "    "),
        ca_cleanup = indent(&ca_cleanup, "    "),
        glab = glab_create(release),
        cli = release_cli_create(release),
    );
    vec![text]
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| if l.is_empty() { String::new() } else { format!("{by}{l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

fn release_cli_create(r: &ReleaseSpec) -> String {
    let mut command = String::from("release-cli create");
    let mut flag = |name: &str, value: Option<&str>| {
        if let Some(v) = value {
            command.push_str(&format!(" --{name} \"{v}\""));
        }
    };
    flag("name", r.name.as_deref());
    flag("description", Some(&r.description));
    flag("tag-name", Some(&r.tag_name));
    flag("tag-message", r.tag_message.as_deref());
    flag("ref", r.git_ref.as_deref());
    flag("released-at", r.released_at.as_deref());
    for m in &r.milestones {
        command.push_str(&format!(" --milestone \"{m}\""));
    }
    command
}

fn glab_create(r: &ReleaseSpec) -> String {
    let tag = if r.tag_name.is_empty() { "$CI_COMMIT_TAG" } else { r.tag_name.as_str() };
    let git_ref = r.git_ref.as_deref().filter(|s| !s.is_empty()).unwrap_or("$CI_COMMIT_SHA");
    let mut command = format!("glab release create -R $CI_PROJECT_PATH \"{tag}\"");
    if !r.milestones.is_empty() {
        command.push_str(&format!(" --milestone \"{}\"", r.milestones.join(",")));
    }
    if let Some(name) = r.name.as_deref().filter(|s| !s.is_empty()) {
        command.push_str(&format!(" --name \"{name}\""));
    }
    if !r.description.is_empty() {
        command.push_str(&format!(" --experimental-notes-text-or-file \"{}\"", r.description));
    }
    command.push_str(&format!(" --ref \"{git_ref}\""));
    if let Some(m) = r.tag_message.as_deref().filter(|s| !s.is_empty()) {
        command.push_str(&format!(" --tag-message \"{m}\""));
    }
    if let Some(at) = r.released_at.as_deref().filter(|s| !s.is_empty()) {
        command.push_str(&format!(" --released-at \"{at}\""));
    }
    command.push_str(" --no-update --no-close-milestone");
    command
}
