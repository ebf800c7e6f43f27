//! Starting, running and stopping the server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use kiln_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{self, App, AppState};
use crate::config::Config;
use crate::error::ServerError;
use crate::instance::{self, InitialCredentials};
use crate::repos::Repos;

/// A started server: the store is open, the instance exists, the listener is bound.
#[derive(Debug)]
pub struct Server {
    app: App,
    listener: TcpListener,
    credentials: Option<InitialCredentials>,
}

impl Server {
    /// Opens the data directory and the database (running migrations),
    /// creates the instance on first start, and binds `config.listen`.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        let io = |what: String| move |source| ServerError::Io { what, source };
        std::fs::create_dir_all(&config.data_dir)
            .map_err(io(format!("creating {}", config.data_dir.display())))?;
        let repos_dir = config.repositories_dir();
        std::fs::create_dir_all(&repos_dir).map_err(io(format!("creating {}", repos_dir.display())))?;
        let store = Store::open(&config.database_url).await?;
        let credentials = instance::ensure_instance(&store, &config.credentials_file()).await?;
        let listener =
            TcpListener::bind(config.listen).await.map_err(io(format!("listening on {}", config.listen)))?;
        let git_settings = kiln_git::Settings {
            http_timeout: config.limits.git_timeout,
            max_request_body: config.limits.max_push_size,
            ..kiln_git::Settings::default()
        };
        let http_client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| ServerError::Config(format!("http client: {e}")))?;
        let blobs = match &config.blob_url {
            Some(url) => kiln_store::BlobStore::open(url)?,
            None => kiln_store::BlobStore::local(config.data_dir.join("blobs"))?,
        };
        let runner = crate::runner_api::RunnerApi::new(&store);
        let app = Arc::new(AppState {
            blobs,
            runner,
            store,
            repos: Repos::new(repos_dir, git_settings),
            config,
            processing: tokio::sync::Notify::new(),
            http_client,
        });
        Ok(Server { app, listener, credentials })
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener.local_addr().map_err(|source| ServerError::Io { what: "local address".into(), source })
    }

    /// A handle for the embedding process, usable while [`Server::run`] runs.
    pub fn handle(&self) -> crate::handle::ServerHandle {
        crate::handle::ServerHandle { app: self.app.clone() }
    }

    /// The administrator's credentials when this start created the instance.
    pub fn initial_credentials(&self) -> Option<&InitialCredentials> {
        self.credentials.as_ref()
    }

    /// Serves until `shutdown` resolves; then stops accepting connections,
    /// lets requests in flight finish (up to the configured timeout), stops
    /// the background loops and closes the database.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let Server { app, listener, .. } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (drain_tx, mut drain_rx) = watch::channel(false);
        let replay = app.clone();
        tokio::spawn(async move { crate::ci::push::replay_spool(&replay).await });
        let loops = crate::worker::spawn(app.clone(), stop_rx);
        let router = app::router(app.clone());
        // Without TCP_NODELAY a response written in pieces (an artifact or a log streamed
        // from the blob store) waits for the client's delayed ACK: 40 ms a request.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let serve = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: no new connections, finishing requests in flight");
                let _ = drain_tx.send(true);
            });
        let grace = app.config.limits.shutdown_timeout;
        let deadline = async move {
            let _ = drain_rx.wait_for(|draining| *draining).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = serve => result.map_err(|source| ServerError::Io { what: "serving".into(), source })?,
            () = deadline => tracing::warn!("requests still running after {}s, closing anyway", grace.as_secs()),
        }
        let _ = stop_tx.send(true);
        for task in loops {
            let _ = task.await;
        }
        app.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = futures::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
