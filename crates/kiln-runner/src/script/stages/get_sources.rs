//! `get_sources`: fetch the repository with the `git` CLI, as GitLab Runner does.
//!
//! Honours `GIT_STRATEGY` (`clone`, `fetch`, `none`, `empty`), `GIT_DEPTH` (via
//! `git_info.depth`), refspecs, `GIT_CHECKOUT`, `GIT_CLEAN_FLAGS`, `GIT_FETCH_EXTRA_FLAGS`,
//! the submodule variables and `GIT_LFS_SKIP_SMUDGE`. The remote URL carries the job
//! token, so it is never echoed.

use std::path::PathBuf;

use crate::script::ScriptWriter;
use crate::script::native::{LocalSources, NativeScript, NativeStep};
use crate::script::stages::{ScriptContext, prelude};

/// `GIT_STRATEGY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitStrategy {
    Clone,
    Fetch,
    None,
    Empty,
}

/// The effective strategy: the variable, else `fetch` when the project allows it, else `clone`.
pub fn git_strategy(ctx: &ScriptContext<'_>) -> GitStrategy {
    match ctx.var("GIT_STRATEGY").unwrap_or("") {
        "clone" => GitStrategy::Clone,
        "fetch" => GitStrategy::Fetch,
        "none" => GitStrategy::None,
        "empty" => GitStrategy::Empty,
        _ if ctx.job.allow_git_fetch => GitStrategy::Fetch,
        _ => GitStrategy::Clone,
    }
}

fn split_flags(value: &str) -> Vec<&str> {
    value.split_whitespace().collect()
}

pub(crate) fn get_sources(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter) -> bool {
    prelude(ctx, w, false);
    w.variable("GIT_TERMINAL_PROMPT", "0");
    w.variable("GCM_INTERACTIVE", "Never");
    if let Some(pre) = ctx.hooks.pre_get_sources {
        w.line(pre);
    }
    for hook in ctx.job.hooks.iter().filter(|h| h.name == "pre_get_sources_script") {
        for line in &hook.script {
            w.user_command(line);
        }
    }
    match git_strategy(ctx) {
        GitStrategy::None => {
            w.notice("Skipping Git repository setup");
            w.mkdir(ctx.project_dir);
        }
        GitStrategy::Empty => {
            w.notice("Skipping Git repository setup and creating an empty build directory");
            w.rm_dir(ctx.project_dir);
            w.mkdir(ctx.project_dir);
        }
        strategy @ (GitStrategy::Clone | GitStrategy::Fetch) => {
            fetch(ctx, w, strategy == GitStrategy::Clone);
            checkout(ctx, w);
            submodules(ctx, w);
        }
    }
    for hook in ctx.job.hooks.iter().filter(|h| h.name == "post_get_sources_script") {
        for line in &hook.script {
            w.user_command(line);
        }
    }
    if let Some(post) = ctx.hooks.post_get_sources {
        w.line(post);
    }
    true
}

/// Variables whose meaning GitLab Runner itself gives, or that no git command of this
/// stage reads: any other `GIT_*` variable (`GIT_DIR`, `GIT_CONFIG_*`, ...) could change
/// what the script's git commands do where the native form writes files itself.
const PLAIN_GIT_VARIABLES: [&str; 16] = [
    "GIT_STRATEGY",
    "GIT_DEPTH",
    "GIT_CHECKOUT",
    "GIT_CLEAN_FLAGS",
    "GIT_FETCH_EXTRA_FLAGS",
    "GIT_SUBMODULE_STRATEGY",
    "GIT_SUBMODULE_DEPTH",
    "GIT_SUBMODULE_UPDATE_FLAGS",
    "GIT_SUBMODULE_PATHS",
    "GIT_SUBMODULE_FORCE_HTTPS",
    "GIT_LFS_SKIP_SMUDGE",
    "GIT_CLONE_PATH",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
];

/// The stage as one [`LocalSources`] step, when the repository is on this machine (a
/// `file://` URL: `kiln exec`'s snapshot) and the job asks for nothing the native form
/// does not do: no hooks, no submodules, no extra fetch flags, forced refspecs (names, or `/*` patterns),
/// no `GIT_*` variable that redirects git. `None` means the script.
pub(crate) fn native(ctx: &ScriptContext<'_>) -> Option<NativeScript> {
    let hooks = ctx.hooks.pre_get_sources.is_some()
        || ctx.hooks.post_get_sources.is_some()
        || ctx.job.hooks.iter().any(|h| h.name.ends_with("_get_sources_script") && !h.script.is_empty());
    let redirected = ctx
        .variables
        .iter()
        .any(|v| v.key.starts_with("GIT_") && !PLAIN_GIT_VARIABLES.contains(&v.key.as_str()));
    if ctx.debug_trace || hooks || redirected {
        return None;
    }
    let strategy = git_strategy(ctx);
    let source = match strategy {
        GitStrategy::None | GitStrategy::Empty => PathBuf::new(),
        GitStrategy::Clone | GitStrategy::Fetch => {
            let info = &ctx.job.git_info;
            let path = info.repo_url.strip_prefix("file://").filter(|p| p.starts_with('/'))?;
            // Forced, and either names or one trailing `/*` pattern on each side.
            let forced = |r: &String| {
                r.strip_prefix('+').and_then(|r| r.split_once(':')).is_some_and(|(src, dst)| {
                    let pattern = |side: &str| {
                        side.strip_suffix("/*").map_or(!side.contains('*'), |p| !p.contains('*'))
                    };
                    pattern(src) && pattern(dst) && src.ends_with('*') == dst.ends_with('*')
                })
            };
            let submodules = matches!(ctx.var("GIT_SUBMODULE_STRATEGY"), Some("normal" | "recursive"));
            if info.refspecs.is_empty()
                || !info.refspecs.iter().all(forced)
                || ctx.var("GIT_FETCH_EXTRA_FLAGS").is_some()
                || submodules
            {
                return None;
            }
            PathBuf::from(path)
        }
    };
    let mut env: Vec<(String, String)> = Vec::new();
    let mut files = Vec::new();
    for v in ctx.variables {
        if v.file {
            let path = ctx.file_variable_path(&v.key);
            files.push((PathBuf::from(&path), v.value.clone()));
            env.push((v.key.clone(), path));
        } else {
            env.push((v.key.clone(), v.value.clone()));
        }
    }
    env.push(("GITLAB_ENV".into(), format!("{}/gitlab_runner_env", ctx.tmp_dir)));
    env.push(("GIT_TERMINAL_PROMPT".into(), "0".into()));
    env.push(("GCM_INTERACTIVE".into(), "Never".into()));
    let lfs = ctx.var("GIT_LFS_SKIP_SMUDGE").is_none();
    if lfs {
        env.push(("GIT_LFS_SKIP_SMUDGE".into(), "1".into()));
    }
    let clean = ctx.var("GIT_CLEAN_FLAGS").unwrap_or("-ffdx");
    let sources = LocalSources {
        strategy,
        source,
        url: ctx.job.git_info.repo_url.clone(),
        refspecs: ctx.job.git_info.refspecs.clone(),
        depth: ctx.job.git_info.depth,
        sha: ctx.job.git_info.sha.clone(),
        ref_name: ctx.job.git_info.ref_name.clone(),
        checkout: ctx.var("GIT_CHECKOUT") != Some("false"),
        clean_flags: (clean != "none").then(|| split_flags(clean).into_iter().map(String::from).collect()),
        lfs,
        env,
        files,
    };
    Some(NativeScript {
        dir: ctx.project_dir.into(),
        tmp_dir: ctx.tmp_dir.into(),
        steps: vec![NativeStep::Sources(Box::new(sources))],
    })
}

fn fetch(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter, clone: bool) {
    let dir = ctx.project_dir;
    let template = format!("{}/git-template", ctx.tmp_dir);
    if clone {
        w.rm_dir(dir);
    }
    w.mkdir(&template);
    // What `git config -f <template>/config fetch.recurseSubmodules false` writes, without a
    // git process: the template holds nothing else.
    w.write_file(&format!("{template}/config"), "[fetch]\n\trecurseSubmodules = false\n");
    let lfs_skip = ctx.var("GIT_LFS_SKIP_SMUDGE").is_none();
    if lfs_skip {
        w.variable("GIT_LFS_SKIP_SMUDGE", "1");
    }
    // git itself says "Initialized empty ..." or "Reinitialized existing Git repository".
    w.command("git", &["init", dir, "--template", &template]);
    w.cd(dir);
    // Stale lock files from an interrupted job would make every later fetch fail.
    for lock in ["index.lock", "shallow.lock", "HEAD.lock", "config.lock"] {
        w.rm_file(&format!("{dir}/.git/{lock}"));
    }
    let url = ctx.job.git_info.repo_url.as_str();
    w.if_cmd("git", &["remote", "add", "origin", url]);
    w.notice("Created fresh repository.");
    w.else_branch();
    w.command("git", &["remote", "set-url", "origin", url]);
    w.end_if();
    let depth = ctx.job.git_info.depth;
    if depth > 0 {
        w.notice(&format!("Fetching changes with git depth set to {depth}..."));
    } else {
        w.notice("Fetching changes...");
    }
    let mut args: Vec<String> = vec!["fetch".into(), "origin".into(), "--no-recurse-submodules".into()];
    let refspecs = if ctx.job.git_info.refspecs.is_empty() {
        vec!["+refs/heads/*:refs/remotes/origin/*".to_string(), "+refs/tags/*:refs/tags/*".to_string()]
    } else {
        ctx.job.git_info.refspecs.clone()
    };
    args.extend(refspecs);
    if depth > 0 {
        args.push("--depth".into());
        args.push(depth.to_string());
    }
    let extra = ctx.var("GIT_FETCH_EXTRA_FLAGS").unwrap_or("--prune --quiet");
    args.extend(split_flags(extra).into_iter().map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if depth <= 0 {
        // A full fetch into a shallow repository must unshallow it.
        w.if_file(&format!("{dir}/.git/shallow"));
        let mut unshallow = args.clone();
        unshallow.push("--unshallow");
        w.command("git", &unshallow);
        w.else_branch();
        w.command("git", &args);
        w.end_if();
    } else {
        w.command("git", &args);
    }
}

fn checkout(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter) {
    let info = &ctx.job.git_info;
    if ctx.var("GIT_CHECKOUT") == Some("false") {
        w.notice("Skipping Git checkout");
        return;
    }
    let short: String = info.sha.chars().take(8).collect();
    w.notice(&format!("Checking out {short} as detached HEAD (ref is {})...", info.ref_name));
    w.command("git", &["-c", "submodule.recurse=false", "checkout", "-f", "-q", &info.sha]);
    let clean = ctx.var("GIT_CLEAN_FLAGS").unwrap_or("-ffdx");
    if clean != "none" {
        let mut args = vec!["clean"];
        args.extend(split_flags(clean));
        w.command("git", &args);
    }
    if ctx.var("GIT_LFS_SKIP_SMUDGE").is_none() {
        // `git lfs pull` only has work where `.gitattributes` route files through the LFS
        // filter; asking git first spares two git-lfs runs and a dozen git processes
        // per job in the common repository without LFS.
        w.if_cmd(
            "git",
            &["grep", "-q", "-F", "-e", "filter=lfs", &info.sha, "--", ":(glob)**/.gitattributes"],
        );
        w.if_cmd("git", &["lfs", "version"]);
        w.command("git", &["lfs", "pull"]);
        w.end_if();
        w.end_if();
    }
}

fn submodules(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter) {
    let strategy = ctx.var("GIT_SUBMODULE_STRATEGY").unwrap_or("none");
    let recursive = match strategy {
        "normal" => false,
        "recursive" => true,
        _ => {
            w.notice("Skipping Git submodules setup");
            return;
        }
    };
    w.notice(&format!("Updating/initializing submodules{}...", if recursive { " recursively" } else { "" }));
    w.command("git", &["submodule", "init"]);
    let mut sync = vec!["submodule", "sync"];
    if recursive {
        sync.push("--recursive");
    }
    w.command("git", &sync);
    let depth = ctx.var("GIT_SUBMODULE_DEPTH").map(str::to_string);
    let mut update: Vec<&str> = vec!["submodule", "update", "--init"];
    if recursive {
        update.push("--recursive");
    }
    if let Some(d) = depth.as_deref().filter(|d| d.parse::<u32>().is_ok_and(|d| d > 0)) {
        update.push("--depth");
        update.push(d);
    }
    let flags = ctx.var("GIT_SUBMODULE_UPDATE_FLAGS").unwrap_or("");
    update.extend(split_flags(flags));
    let paths = ctx.var("GIT_SUBMODULE_PATHS").unwrap_or("");
    if !paths.trim().is_empty() {
        update.push("--");
        update.extend(split_flags(paths));
    }
    w.command("git", &update);
    let mut foreach = vec!["submodule", "foreach"];
    if recursive {
        foreach.push("--recursive");
    }
    let mut clean = foreach.clone();
    clean.push("git clean -ffdx");
    w.command("git", &clean);
    let mut reset = foreach;
    reset.push("git reset --hard");
    w.command("git", &reset);
}

pub(crate) fn clear_worktree(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter) -> bool {
    w.if_directory(&format!("{}/.git", ctx.project_dir));
    w.cd(ctx.project_dir);
    w.command("git", &["clean", "-ffdx"]);
    w.command("git", &["reset", "--hard"]);
    w.end_if();
    true
}
