//! gitlab-ci-local's behaviour cases (`../shared/conformance/gitlab-ci-local`)
//! run by `kiln exec`: every shell-only case whose oracle ran, every test of
//! it with the options its `expected.txt` gives. The jobs must end as the
//! case expects and the expected output lines must appear (the name prefix's
//! padding may differ). Cases with `image:` run with the Docker executor as
//! `kiln exec` picks it (jobs with an image in containers) when an engine
//! answers (required under `CI=true`); images that cannot be pulled here are
//! busybox stand-ins where busybox is all the scripts need (`gcl::images`), and
//! a test needing any other image is an exception naming it. Tests that
//! exercise gitlab-ci-local's own features, or where GitLab and
//! gitlab-ci-local differ, are exceptions named below with the reason.

mod gcl;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gcl::images::{STAND_INS, import_stand_ins, job_images, job_needs, needed, remove_stand_ins};
use gcl::parse::{Check, Opt, Test, parse};
use kiln_exec::{DockerSupport, Executor, Mode};
use support::{exec, files_of, git, job_lines, options};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/gitlab-ci-local");

/// Options of gitlab-ci-local that name its own features (containers,
/// output formats, its home directory); a test using one is not a test of
/// pipeline behaviour.
const FOREIGN_OPTIONS: &[(&str, &str)] = &[
    (
        "preview",
        "gitlab-ci-local's --preview format (the expanded configuration is checked by kiln-config's conformance suite)",
    ),
    ("list", "gitlab-ci-local's --list format (the job list is checked by kiln-config's conformance suite)"),
    ("listCsv", "gitlab-ci-local's --list-csv format"),
    ("listJson", "gitlab-ci-local's --list-json format"),
    ("home", "gitlab-ci-local's home directory of variable files"),
    ("umask", "a container option"),
    ("network", "a container option"),
    ("privileged", "a container option"),
    ("containerEmulate", "a container option"),
    ("registry", "gitlab-ci-local's local registry"),
    ("mountCache", "a container option"),
    ("containerExecutable", "a container option"),
    ("shmSize", "a container option"),
    ("extraHost", "a container option"),
    ("containerMacAddress", "a container option"),
    ("jsonSchemaValidation", "gitlab-ci-local's schema validation switch"),
    ("ignoreSchemaPaths", "gitlab-ci-local's schema validation switch"),
    ("maxJobNamePadding", "gitlab-ci-local's output padding option"),
    ("timestamps", "gitlab-ci-local's output timestamps option"),
    ("input", "component inputs from the command line (not a GitLab pipeline feature)"),
    ("remoteVariables", "gitlab-ci-local's remote variable files"),
    ("maximumIncludes", "gitlab-ci-local's include limit option"),
    ("evaluateRuleChanges", "gitlab-ci-local's rules:changes switch"),
    ("caFile", "gitlab-ci-local's CA option"),
    ("stage", "gitlab-ci-local's --stage selection"),
    ("unsetVariable", "gitlab-ci-local's --unset-variable"),
    (
        "artifactsToSource",
        "gitlab-ci-local copies artifacts into the source tree; kiln exec writes nothing outside .kiln/",
    ),
    ("validateDependencyChain", "gitlab-ci-local's --validate-dependency-chain"),
    ("defaultImage", "a container option"),
];

/// Tests that differ on purpose, by case and exact test title (an empty
/// title: every test of the case).
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "cli-option-variables",
        "",
        "the multi-line `--variable` value was flattened to one line when expected.txt was written",
    ),
    (
        "environment",
        "environment <deploy-stage-job>",
        "GitLab gives a changed environment name a random 6-character slug suffix; Kiln derives it from the name, gitlab-ci-local draws its own",
    ),
    (
        "environment",
        "environment <deploy-stage-job-with-expansion>",
        "GitLab gives a changed environment name a random 6-character slug suffix; Kiln derives it from the name, gitlab-ci-local draws its own",
    ),
    (
        "include-local",
        "include-local <build-job>",
        "the include path comes from gitlab-ci-local's own `.gitlab-ci-local-variables.yml`",
    ),
    (
        "include-rules",
        "",
        "gitlab-ci-local sets GITLAB_CI=false; GitLab (and Kiln) set it to true, so the other include applies",
    ),
    (
        "long-running-silent-test-job",
        "",
        "`still running...` is gitlab-ci-local's own notice for a silent job",
    ),
    (
        "manual",
        "manual --manual <pre-job>",
        "`build-job` is a blocking manual job (`rules: when: manual` means `allow_failure: false`), so GitLab's pipeline waits before the test stage; gitlab-ci-local runs `deploy-job` anyway",
    ),
    (
        "manual",
        "manual <deploy-job> --needs",
        "`deploy-job` has no `needs:`, so it needs every job of the earlier stages, among them the blocking manual `pre-job` and `build-job`; GitLab's pipeline waits for them to be played (kiln exec reports `manual`), gitlab-ci-local runs `deploy-job` anyway",
    ),
    (
        "needs-parallel-matrix-expressions",
        "",
        "the file's `linux:test-mixed` needs `linux:build: [aws]`, which is not a full instance name; GitLab refuses the pipeline (undefined need), gitlab-ci-local widens the selector",
    ),
    (
        "needs-parallel-matrix-static",
        "",
        "the file's `test-partial` needs `build-multi: [x64]`, which is not a full instance name; GitLab refuses the pipeline (undefined need), gitlab-ci-local widens the selector",
    ),
    (
        "cache-key-files",
        "cache-key-files <consume-cache> --shell-isolation --needs",
        "GitLab does not expand variables in `cache:key:files` (\"CI/CD variables are not supported\"), so the producer's `$PACKAGE` names no file and its key differs from the consumer's; gitlab-ci-local expands it",
    ),
    (
        "predefined-variables",
        "predefined-variables <shell-isolation> --shell-isolation",
        "the expected CI_PROJECT_DIR is gitlab-ci-local's own build directory (`.gitlab-ci-local-<case>-shell-isolation/builds/<job>`); kiln exec's is `.kiln/builds/<job>`",
    ),
    (
        "rules-changes",
        "rules:changes (no changes)",
        "the test mocks gitlab-ci-local's `git diff` to report only `bar` changed; in Kiln the case is a new branch's first push, where GitLab evaluates `rules:changes` to true",
    ),
    (
        "rules-changes",
        "rules:changes:paths (no changes)",
        "the test mocks gitlab-ci-local's `git diff` to report only `bar` changed; in Kiln the case is a new branch's first push, where GitLab evaluates `rules:changes` to true",
    ),
    (
        "script-failures",
        "script-failures <test-job>",
        "`  > text` lines are gitlab-ci-local's failure summary (the job's last lines without its name)",
    ),
    (
        "script-failures",
        "script-failures <allow-failure-job>",
        "`  > text` lines are gitlab-ci-local's failure summary (the job's last lines without its name)",
    ),
    (
        "never-needs",
        "never-needs <test-job-optional> --needs",
        "`test-job` needs `never-job`, which rules leave out without `needs:optional`; GitLab refuses the pipeline",
    ),
];

#[derive(Debug)]
enum Verdict {
    Pass,
    Fail(String),
    Exception(String),
}

fn has_image(case: &Path) -> bool {
    let preview = std::fs::read_to_string(case.join("oracle/preview.yml")).unwrap_or_default();
    let list = std::fs::read_to_string(case.join("oracle/list.json")).unwrap_or_default();
    preview.contains("image:") || list.contains("\"image\"")
}

fn oracle_ran(case: &Path) -> bool {
    let rc = |f: &str| {
        std::fs::read_to_string(case.join("oracle").join(f)).map(|s| s.trim() == "0").unwrap_or(false)
    };
    rc("preview.rc") && rc("list.rc")
}

fn strings(o: Option<&Opt>) -> Vec<String> {
    match o {
        Some(Opt::List(l)) => l.clone(),
        Some(Opt::Str(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// A project like the one gitlab-ci-local's tests run in: branch `master`,
/// default branch `main`, `origin` on gitlab.com.
fn project(case: &Path, root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    git(root, &["init", "-q", "-b", "master"]);
    git(root, &["config", "user.email", "test@example.com"]);
    git(root, &["config", "user.name", "Test"]);
    git(root, &["remote", "add", "origin", "git@gitlab.com:gcl/test-project.git"]);
    for (path, content) in files_of(&case.join("case"), &[]) {
        let full = root.join(&path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, content).unwrap();
    }
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "--allow-empty", "-m", "Test commit"]);
    git(root, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
    git(root, &["symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main"]);
}

/// gitlab-ci-local names `parallel: N` instances `job: [1/2]`; GitLab names
/// them `job 1/2`. Matrix names are compared without the space after commas.
fn job_name(name: &str) -> String {
    let name = name.trim_end();
    if let Some((base, rest)) = name.split_once(": [")
        && let Some(inner) = rest.strip_suffix(']')
        && inner.split_once('/').is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
    {
        return format!("{base} {inner}");
    }
    name.to_string()
}

fn normalize(line: &str) -> String {
    match line.split_once(" > ") {
        Some((name, text)) => format!("{} > {}", job_name(name).replace(", ", ","), text),
        None => line.trim_end().to_string(),
    }
}

/// Whether the Docker executor runs this test, or why not.
fn docker_for(case: &Path, test: &Test, docker: &DockerSupport) -> Result<DockerSupport, String> {
    let jobs: Vec<String> = strings(test.options.get("job")).iter().map(|j| job_name(j)).collect();
    let with_needs = test.options.get("needs") == Some(&Opt::Bool(true))
        || test.options.get("onlyNeeds") == Some(&Opt::Bool(true));
    let missing: Vec<String> = needed(&job_images(case), &job_needs(case), &jobs, with_needs)
        .into_iter()
        .filter(|i| !STAND_INS.contains(&i.as_str()))
        .collect();
    if missing.is_empty() {
        Ok(docker.clone())
    } else {
        Err(format!(
            "needs the image(s) {}: no registry is reachable here, and busybox does not stand in for them",
            missing.join(", ")
        ))
    }
}

fn run_test(case: &Path, name: &str, test: &Test, docker: Option<&DockerSupport>) -> Verdict {
    if let Some((_, _, reason)) =
        EXCEPTIONS.iter().find(|(c, t, _)| *c == name && (t.is_empty() || test.title == *t))
    {
        return Verdict::Exception((*reason).to_string());
    }
    for (opt, reason) in FOREIGN_OPTIONS {
        if matches!(test.options.get(*opt), Some(o) if *o != Opt::Bool(false)) {
            return Verdict::Exception(format!("--{opt}: {reason}"));
        }
    }
    if let Some((k, _)) = test.options.iter().find(|(_, v)| matches!(v, Opt::Expr(_))) {
        return Verdict::Exception(format!("option `{k}` is a JavaScript expression of the test"));
    }
    let checkable: Vec<&Check> = test.checks.iter().filter(|c| !matches!(c, Check::Unchecked(_))).collect();
    if checkable.is_empty() {
        return Verdict::Exception("its assertions are on gitlab-ci-local's own output or state".into());
    }
    let docker = match docker.map(|d| docker_for(case, test, d)) {
        Some(Err(why)) => return Verdict::Exception(why),
        Some(Ok(d)) => Some(d),
        None => None,
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    project(case, &root);
    let cwd = match test.options.get("cwd") {
        Some(Opt::Str(s)) if !s.starts_with("tests/") && s != "cwd" => root.join(s),
        _ => root.clone(),
    };
    let mut o = options(&cwd);
    o.selection.jobs = strings(test.options.get("job")).iter().map(|j| job_name(j)).collect();
    o.selection.needs = test.options.get("needs") == Some(&Opt::Bool(true));
    o.selection.only_needs = test.options.get("onlyNeeds") == Some(&Opt::Bool(true));
    o.manual = strings(test.options.get("manual"));
    o.file = match test.options.get("file") {
        Some(Opt::Str(f)) => Some(PathBuf::from(f)),
        _ => None,
    };
    if let Some(Opt::Num(n)) = test.options.get("concurrency") {
        o.concurrency = usize::try_from(*n).unwrap_or(1);
    }
    for v in strings(test.options.get("variable")) {
        if let Some((k, val)) = v.split_once('=') {
            o.variables.push((k.to_string(), val.to_string()));
        }
    }
    if let Some(Opt::Str(f)) = test.options.get("variablesFile") {
        let text = std::fs::read_to_string(cwd.join(f)).unwrap_or_default();
        match kiln_exec::vars_file::parse(f, &text) {
            Ok(vars) => o.variables.extend(vars),
            Err(e) => return Verdict::Fail(format!("variables file: {e}")),
        }
    }
    o.mode = Mode::Run;
    if let Some(d) = docker {
        o.executor = match test.options.get("forceShellExecutor") {
            Some(Opt::Bool(true)) => Executor::Shell,
            _ => Executor::Auto,
        };
        o.docker = Some(d);
    }
    for _ in 1..test.runs {
        let (result, output) = exec(o.clone());
        if let Err(e) = result {
            return Verdict::Fail(format!("an earlier run was refused: {e}\n{output}"));
        }
    }
    let (result, output) = exec(o);
    let outcome = match result {
        Err(e) if checkable.contains(&&Check::Throws) => {
            return if e.to_string().is_empty() {
                Verdict::Fail("empty error".into())
            } else {
                Verdict::Pass
            };
        }
        Err(e) => return Verdict::Fail(format!("refused: {e}\n{output}")),
        Ok(o) => o,
    };
    let lines: Vec<String> = job_lines(&output).iter().map(|l| normalize(l)).collect();
    let mut problems = Vec::new();
    for check in checkable {
        match check {
            Check::Line(l) if l.contains(" > ") => {
                let want = normalize(l);
                if !lines.contains(&want) {
                    problems.push(format!("missing line {want:?}"));
                }
            }
            Check::Line(l) => {
                if !output.lines().any(|o| o.trim_end() == l.trim_end()) {
                    problems.push(format!("missing line {l:?} (gitlab-ci-local's own format?)"));
                }
            }
            Check::NoLine(l) => {
                let unwanted = normalize(l);
                if lines.contains(&unwanted) {
                    problems.push(format!("unexpected line {unwanted:?}"));
                }
            }
            Check::Contains(s) => {
                if !output.contains(s.as_str()) {
                    problems.push(format!("output lacks {s:?}"));
                }
            }
            Check::NotContains(s) => {
                if lines.iter().any(|l| l.contains(s.as_str())) {
                    problems.push(format!("output has {s:?}"));
                }
            }
            Check::NoFailure => {
                let failed = outcome
                    .report
                    .as_ref()
                    .map(|r| r.jobs.iter().filter(|j| j.status == "failed" && !j.allow_failure).count())
                    .unwrap_or(0);
                if failed > 0 {
                    problems.push(format!("{failed} job(s) failed"));
                }
            }
            Check::Throws => problems.push("expected the run to be refused".into()),
            Check::Unchecked(_) => {}
        }
    }
    if problems.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail(format!("{}\n--- output\n{output}", problems.join("\n")))
    }
}

#[test]
fn gitlab_ci_local_cases() {
    let root = Path::new(ROOT);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("the conformance data is present")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("expected.txt").is_file())
        .collect();
    cases.sort();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut imported = Vec::new();
    let engine = match support::docker::docker() {
        Ok(d) => {
            imported = runtime.block_on(import_stand_ins());
            Some(d)
        }
        Err(why) => {
            let note = format!("Docker cases wait: no Docker engine answers ({why})\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
            None
        }
    };
    let mut docker = Vec::new();
    let mut docker_cases = 0;
    let mut work: Vec<(PathBuf, String, Test, Option<DockerSupport>)> = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if !oracle_ran(case) {
            continue;
        }
        let with = match (has_image(case), &engine) {
            (false, _) => None,
            (true, Some(d)) => {
                docker_cases += 1;
                Some(d.clone())
            }
            (true, None) => {
                docker.push(name);
                continue;
            }
        };
        for test in parse(&std::fs::read_to_string(case.join("expected.txt")).unwrap()) {
            work.push((case.clone(), name.clone(), test, with.clone()));
        }
    }
    let only = std::env::var("GCL_CASE").ok();
    work.retain(|(_, name, _, _)| only.as_ref().is_none_or(|o| o == name));
    let results: Mutex<BTreeMap<(String, String), (Verdict, bool)>> = Mutex::new(BTreeMap::new());
    let queue = Mutex::new(work);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                loop {
                    let Some((case, name, test, docker)) = queue.lock().unwrap().pop() else { return };
                    let verdict = run_test(&case, &name, &test, docker.as_ref());
                    results.lock().unwrap().insert((name, test.title.clone()), (verdict, docker.is_some()));
                }
            });
        }
    });
    runtime.block_on(remove_stand_ins(&imported));
    let results = results.into_inner().unwrap();
    let mut report = String::new();
    let (mut pass, mut fail, mut exc) = (0, 0, 0);
    // Of those, the tests of cases with `image:` (run with Docker).
    let (mut d_pass, mut d_fail, mut d_exc) = (0, 0, 0);
    for ((case, title), (v, with_docker)) in &results {
        let tag = if *with_docker { " [docker]" } else { "" };
        match v {
            Verdict::Pass => {
                pass += 1;
                d_pass += usize::from(*with_docker);
                if *with_docker {
                    report.push_str(&format!("PASS{tag} {case} :: {title}\n"));
                }
            }
            Verdict::Exception(reason) => {
                exc += 1;
                d_exc += usize::from(*with_docker);
                report.push_str(&format!("EXCEPTION{tag} {case} :: {title}: {reason}\n"));
            }
            Verdict::Fail(why) => {
                fail += 1;
                d_fail += usize::from(*with_docker);
                report.push_str(&format!("FAIL{tag} {case} :: {title}: {why}\n"));
            }
        }
    }
    report.push_str(&format!(
        "\ngitlab-ci-local tests: {pass} passed, {fail} failed, {exc} exceptions; of them in {docker_cases} cases with image: {d_pass} passed, {d_fail} failed, {d_exc} exceptions; {} cases with image: wait for a Docker engine: {}\n",
        docker.len(),
        docker.join(", ")
    ));
    let mut stderr = std::io::stderr();
    let _ = std::io::Write::write_all(&mut stderr, report.as_bytes());
    assert_eq!(fail, 0, "{report}");
}
