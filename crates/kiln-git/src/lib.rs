//! Bare git repositories on disk, driven by the `git` command line.
//!
//! The coordinator hosts each project as a bare repository. This crate does
//! the git work for it and nothing else: create a repository ([`Repository`]),
//! read a file or the whole tree at a commit, list changed paths between two
//! commits, resolve branches and tags, describe a commit, and serve clone,
//! fetch and push over smart HTTP ([`SmartHttp`], which runs
//! `git http-backend` as a CGI program and streams both bodies). A push
//! reports which branches and tags it changed and the push options it
//! carried ([`PushEvent`]).
//!
//! It knows nothing about pipelines, users or HTTP frameworks: a request goes
//! in as method, headers and a byte stream, and a status, headers and a byte
//! stream come out; the server decides who may do what.
//!
//! Every git process gets its arguments as a list (never through a shell),
//! a clean environment, a timeout and an output limit. Ref names, object ids
//! and paths that come from outside are validated before they reach git, and
//! revisions are always passed after `--end-of-options`.

mod command;
mod error;
mod http;
mod oid;
mod pktline;
mod push;
mod refname;
mod repo;
mod settings;

pub use error::GitError;
pub use http::{BodyStream, Endpoint, HttpError, HttpRequest, HttpResponse, PushHandler, Service, SmartHttp};
pub use oid::Oid;
pub use push::{PushEvent, PushOptions, RefKind, RefUpdate};
pub use refname::{validate_branch_name, validate_ref_name, validate_tag_name};
pub use repo::{CommitInfo, RefEntry, Repository};
pub use settings::Settings;
