//! The Docker executor: each job runs in a container of the Docker engine, with its
//! `services:` beside it, as GitLab Runner's `docker` executor runs it.
//!
//! # Where stages run
//!
//! GitLab Runner runs the *predefined* stages (`get_sources`, `restore_cache`,
//! `download_artifacts`, `archive_cache*`, `upload_artifacts*`, `cleanup_file_variables`)
//! in a helper container made from its `gitlab-runner-helper` image, and the user
//! stages (`prepare_script`, `step_*`, `after_script`) in the job's `image:`. Both share
//! the builds volume at `/builds`.
//!
//! Kiln has no registry to pull a helper image from and no image with git and the
//! helper built in, so this executor keeps the split but runs the predefined stages on
//! the runner's own machine, as the shell executor would: the builds directory is a host
//! directory (`<working dir>/builds-docker/runner-<token>-project-<id>-concurrent-<n>`)
//! bind-mounted into every container of the job at `[runners] builds_dir` (default
//! `/builds`), so `CI_PROJECT_DIR` is `/builds/<namespace>/<project>` inside the container
//! and git, caches and artifacts are handled by the runner's `git` and its helper
//! subcommands on the same files. The runner renders predefined stages with the host
//! paths ([`kiln_runner::executor::PredefinedEnvironment`]). As in GitLab Runner, that
//! directory outlives the job only for `GIT_STRATEGY: fetch` (its cache volume); other
//! strategies get a fresh directory that cleanup removes. Local cache archives live in
//! `[runners.docker] cache_dir` on the host (default `<working dir>/cache`).
//!
//! # The job's containers
//!
//! `prepare` makes a bridge network for the job (unless `network_mode` names one),
//! starts the services on it with GitLab Runner's aliases (`postgres`, `namespace__name`,
//! `namespace-name`, and `alias:`), waits for each service's first TCP port, pulls the
//! image per pull policy and creates the build container, whose command is a shell that
//! reads a stage script from stdin. Each user stage attaches, starts it, writes the
//! script and waits for its exit code; the container stops with the script, so no
//! process outlives its stage. Cancel and timeout send SIGTERM to the stage's processes,
//! then kill the container after 10 s. `cleanup` removes every container carrying the
//! job's run label and the job's network, also when `prepare` failed or was canceled.
//!
//! # Limits
//!
//! - The engine must be on the runner's machine: bind mounts name host paths, and the
//!   service health check connects from the runner to the service's address on the job
//!   network. A remote `host = "tcp://..."` engine works only when it shares the
//!   filesystem path and the network (for example a VM with the same mount).
//! - The predefined stages need `git` (and, for caches and artifacts, this binary) on
//!   the runner's machine, not in the image; `helper_image` is not used.
//! - Files the job writes as root in the container are root's on the host: run the
//!   runner as root (as with GitLab Runner's default), or give the image a user that
//!   can be the runner's. Predefined stages run with `umask 0000`, so a non-root image
//!   user can write what they create.
//! - No interactive terminal, no `CI_DEBUG_SERVICES` log streaming, no Windows
//!   containers, no `docker+machine` autoscaling.

pub mod auth;
pub mod config;
pub mod container;
pub mod engine;
pub mod executor;
pub mod host;
pub mod names;
pub mod provider;
pub mod pull;
pub mod services;
#[cfg(feature = "testing")]
pub mod testing;
pub mod volumes;

pub use config::DockerConfig;
pub use executor::DockerExecutor;
pub use provider::DockerProvider;
