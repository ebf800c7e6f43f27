//! The REST API v4 routes, one module per resource.

mod artifacts;
mod audit;
mod groups;
mod jobs;
mod members;
mod misc;
mod namespaces;
pub(crate) mod pipelines;
mod projects;
mod protected;
mod render;
mod runners;
mod schedules;
mod test_report;
mod triggers;
mod users;
mod util;
mod variables;

use axum::Router;

use crate::app::App;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .merge(misc::routes())
        .merge(projects::routes())
        .merge(pipelines::routes())
        .merge(jobs::routes())
        .merge(groups::routes())
        .merge(members::routes())
        .merge(protected::routes())
        .merge(users::routes())
        .merge(variables::routes())
        .merge(schedules::routes())
        .merge(triggers::routes())
        .merge(audit::routes())
        .merge(namespaces::routes())
        .merge(runners::routes())
        .merge(artifacts::routes())
        .merge(test_report::routes())
        .fallback(|| async { crate::app::route_not_found() })
}
