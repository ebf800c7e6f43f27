//! The runner agent: it asks a coordinator for jobs and runs them on an executor.
