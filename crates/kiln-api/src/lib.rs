//! Wire types of the GitLab runner API, shared by `kiln server` and `kiln runner`.
