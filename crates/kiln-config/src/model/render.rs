//! A compact, readable text form of a [`Config`], for snapshot tests and
//! `kiln lint` output: one line per keyword, nested by indentation, only
//! what was given.

use std::fmt::Write;

use crate::model::*;

/// Renders `config` as indented text.
pub fn render(config: &Config) -> String {
    let mut r = R { out: String::new() };
    r.line(
        0,
        &format!("stages: {}", config.stages.iter().map(|s| s.value.as_str()).collect::<Vec<_>>().join(", ")),
    );
    r.variables(0, "variables", &config.variables);
    if let Some(wf) = &config.workflow {
        r.line(0, "workflow:");
        if let Some(n) = &wf.name {
            r.line(1, &format!("name: {:?}", n.value));
        }
        if let Some(ac) = &wf.auto_cancel {
            r.line(1, &format!("auto_cancel: {}", auto_cancel(ac)));
        }
        if let Some(rules) = &wf.rules {
            r.rules(1, rules);
        }
    }
    r.defaults(config);
    for job in &config.jobs {
        r.job(job);
    }
    r.out
}

struct R {
    out: String,
}

fn list(items: &[Spanned<String>]) -> String {
    format!("[{}]", items.iter().map(|s| format!("{:?}", s.value)).collect::<Vec<_>>().join(", "))
}

fn strs(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "))
}

fn duration(d: &Duration) -> String {
    match d.seconds {
        Some(s) => format!("{:?} ({s}s)", d.text),
        None => format!("{:?}", d.text),
    }
}

fn allow_failure(a: &AllowFailure) -> String {
    match a {
        AllowFailure::Bool(b) => b.to_string(),
        AllowFailure::ExitCodes(c) => format!("exit_codes {c:?}"),
    }
}

fn auto_cancel(ac: &AutoCancel) -> String {
    let mut parts = Vec::new();
    if let Some(v) = ac.on_new_commit {
        parts.push(format!("on_new_commit={}", v.as_str()));
    }
    if let Some(v) = ac.on_job_failure {
        parts.push(format!("on_job_failure={}", v.as_str()));
    }
    parts.join(" ")
}

fn matrix(entries: &[MatrixEntry]) -> String {
    entries
        .iter()
        .map(|e| {
            let vars: Vec<String> =
                e.variables.iter().map(|(k, v)| format!("{}={}", k.value, strs(v))).collect();
            format!("{{{}}}", vars.join(" "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn image(i: &Image) -> String {
    let mut s = format!("{:?}", i.name.value);
    if let Some(e) = &i.entrypoint {
        let _ = write!(s, " entrypoint={}", strs(e));
    }
    if !i.pull_policy.is_empty() {
        let p: Vec<&str> = i.pull_policy.iter().map(|p| p.as_str()).collect();
        let _ = write!(s, " pull_policy=[{}]", p.join(", "));
    }
    if let Some(d) = &i.docker {
        let _ = write!(s, " docker(platform={:?} user={:?})", d.platform, d.user);
    }
    if let Some(k) = &i.kubernetes {
        let _ = write!(s, " kubernetes(user={:?})", k.user);
    }
    s
}

fn need(n: &Need) -> String {
    match n {
        Need::Job(j) => {
            let mut s = format!("job {:?}", j.job.value);
            if !j.artifacts {
                s.push_str(" artifacts=false");
            }
            if j.optional {
                s.push_str(" optional");
            }
            if let Some(m) = &j.matrix {
                let _ = write!(s, " matrix {}", matrix(m));
            }
            s
        }
        Need::CrossDependency(c) => {
            let src = match &c.source {
                CrossSource::Project { project, ref_ } => {
                    format!("project {:?} ref {:?}", project.value, ref_.value)
                }
                CrossSource::Pipeline(p) => format!("pipeline {:?}", p.value),
            };
            format!(
                "{src} job {:?} artifacts={}{}",
                c.job.value,
                c.artifacts,
                if c.optional { " optional" } else { "" }
            )
        }
        Need::Pipeline(p) => format!("pipeline status of {:?}", p.value),
    }
}

impl R {
    fn line(&mut self, indent: usize, text: &str) {
        let _ = writeln!(self.out, "{}{text}", "  ".repeat(indent));
    }

    fn variables(&mut self, indent: usize, title: &str, vars: &Variables) {
        if vars.is_empty() {
            return;
        }
        self.line(indent, &format!("{title}:"));
        for v in &vars.items {
            let mut s = format!("{} = {:?}", v.name.value, v.value);
            if let Some(d) = &v.description {
                let _ = write!(s, " description={d:?}");
            }
            if !v.options.is_empty() {
                let _ = write!(s, " options={}", strs(&v.options));
            }
            if !v.expand {
                s.push_str(" expand=false");
            }
            self.line(indent + 1, &s);
        }
    }

    fn script(&mut self, indent: usize, title: &str, script: &Option<Script>) {
        if let Some(s) = script {
            self.line(indent, &format!("{title}: {}", list(&s.lines)));
        }
    }

    fn rules(&mut self, indent: usize, rules: &[Rule]) {
        self.line(indent, "rules:");
        for rule in rules {
            let mut parts = Vec::new();
            if let Some(i) = &rule.if_ {
                parts.push(format!("if {:?}", i.text.value));
            }
            if let Some(c) = &rule.changes {
                let mut s = format!("changes {}", list(&c.paths));
                if let Some(t) = &c.compare_to {
                    let _ = write!(s, " compare_to {:?}", t.value);
                }
                parts.push(s);
            }
            if let Some(e) = &rule.exists {
                let mut s = format!("exists {}", list(&e.paths));
                if let Some(p) = &e.project {
                    let _ = write!(s, " project {:?}", p.value);
                }
                if let Some(r) = &e.ref_ {
                    let _ = write!(s, " ref {:?}", r.value);
                }
                parts.push(s);
            }
            if let Some(w) = &rule.when {
                parts.push(format!("when {}", w.value.as_str()));
            }
            if let Some(d) = &rule.start_in {
                parts.push(format!("start_in {}", duration(d)));
            }
            if let Some(a) = &rule.allow_failure {
                parts.push(format!("allow_failure {}", allow_failure(a)));
            }
            if let Some(i) = rule.interruptible {
                parts.push(format!("interruptible {i}"));
            }
            if let Some(ac) = &rule.auto_cancel {
                parts.push(format!("auto_cancel {}", auto_cancel(ac)));
            }
            if let Some(n) = &rule.needs {
                parts.push(format!("needs [{}]", n.iter().map(need).collect::<Vec<_>>().join(", ")));
            }
            if !rule.variables.is_empty() {
                let v: Vec<String> =
                    rule.variables.items.iter().map(|v| format!("{}={:?}", v.name.value, v.value)).collect();
                parts.push(format!("variables {{{}}}", v.join(" ")));
            }
            self.line(indent + 1, &format!("- {}", parts.join("; ")));
        }
    }

    fn defaults(&mut self, config: &Config) {
        let d = &config.default;
        let mut r = R { out: String::new() };
        r.script(1, "before_script", &d.before_script);
        r.script(1, "after_script", &d.after_script);
        r.hooks(1, &d.hooks);
        if let Some(i) = &d.image {
            r.line(1, &format!("image: {}", image(i)));
        }
        r.services(1, &d.services);
        r.caches(1, &d.cache);
        r.artifacts(1, &d.artifacts);
        if let Some(t) = &d.tags {
            r.line(1, &format!("tags: {}", list(t)));
        }
        if let Some(t) = &d.timeout {
            r.line(1, &format!("timeout: {}", duration(t)));
        }
        if let Some(i) = d.interruptible {
            r.line(1, &format!("interruptible: {i}"));
        }
        r.retry(1, &d.retry);
        r.id_tokens(1, &d.id_tokens);
        if let Some(Identity::GoogleCloud) = d.identity {
            r.line(1, "identity: google_cloud");
        }
        if !r.out.is_empty() {
            self.line(0, "default:");
            self.out.push_str(&r.out);
        }
        let mut g = R { out: String::new() };
        g.script(1, "before_script", &config.before_script);
        g.script(1, "after_script", &config.after_script);
        if let Some(i) = &config.image {
            g.line(1, &format!("image: {}", image(i)));
        }
        g.services(1, &config.services);
        g.caches(1, &config.cache);
        if !g.out.is_empty() {
            self.line(0, "globals (deprecated):");
            self.out.push_str(&g.out);
        }
    }

    fn hooks(&mut self, indent: usize, hooks: &Option<Hooks>) {
        if let Some(h) = hooks {
            self.line(indent, "hooks:");
            self.script(indent + 1, "pre_get_sources_script", &h.pre_get_sources_script);
        }
    }

    fn services(&mut self, indent: usize, services: &Option<Vec<Service>>) {
        let Some(services) = services else { return };
        self.line(indent, "services:");
        for s in services {
            let mut t = format!("- {}", image(&s.image));
            if let Some(a) = &s.alias {
                let _ = write!(t, " alias={a:?}");
            }
            if let Some(c) = &s.command {
                let _ = write!(t, " command={}", strs(c));
            }
            if !s.variables.is_empty() {
                let v: Vec<String> =
                    s.variables.items.iter().map(|v| format!("{}={:?}", v.name.value, v.value)).collect();
                let _ = write!(t, " variables {{{}}}", v.join(" "));
            }
            self.line(indent + 1, &t);
        }
    }

    fn caches(&mut self, indent: usize, caches: &Option<Vec<Cache>>) {
        let Some(caches) = caches else { return };
        self.line(indent, "cache:");
        for c in caches {
            let mut parts = Vec::new();
            match &c.key {
                Some(CacheKey::Literal(k)) => parts.push(format!("key {:?}", k.value)),
                Some(CacheKey::Files { files, prefix }) => {
                    parts.push(format!("key files {} prefix {:?}", list(files), prefix))
                }
                Some(CacheKey::FilesCommits { files, prefix }) => {
                    parts.push(format!("key files_commits {} prefix {:?}", list(files), prefix))
                }
                None => {}
            }
            if !c.paths.is_empty() {
                parts.push(format!("paths {}", list(&c.paths)));
            }
            if let Some(u) = c.untracked {
                parts.push(format!("untracked {u}"));
            }
            if let Some(p) = &c.policy {
                parts.push(format!("policy {}", p.as_str()));
            }
            if let Some(w) = c.when {
                parts.push(format!("when {}", w.as_str()));
            }
            if let Some(u) = c.unprotect {
                parts.push(format!("unprotect {u}"));
            }
            if !c.fallback_keys.is_empty() {
                parts.push(format!("fallback_keys {}", strs(&c.fallback_keys)));
            }
            self.line(indent + 1, &format!("- {}", parts.join("; ")));
        }
    }

    fn artifacts(&mut self, indent: usize, artifacts: &Option<Artifacts>) {
        let Some(a) = artifacts else { return };
        self.line(indent, "artifacts:");
        let i = indent + 1;
        if let Some(n) = &a.name {
            self.line(i, &format!("name: {n:?}"));
        }
        if !a.paths.is_empty() {
            self.line(i, &format!("paths: {}", list(&a.paths)));
        }
        if !a.exclude.is_empty() {
            self.line(i, &format!("exclude: {}", list(&a.exclude)));
        }
        if let Some(e) = &a.expose_as {
            self.line(i, &format!("expose_as: {e:?}"));
        }
        if let Some(u) = a.untracked {
            self.line(i, &format!("untracked: {u}"));
        }
        if let Some(w) = a.when {
            self.line(i, &format!("when: {}", w.as_str()));
        }
        if let Some(e) = &a.expire_in {
            self.line(i, &format!("expire_in: {}", duration(e)));
        }
        if let Some(x) = a.access {
            self.line(i, &format!("access: {}", x.as_str()));
        }
        if let Some(p) = a.public {
            self.line(i, &format!("public: {p}"));
        }
        for r in &a.reports {
            let mut s = format!("report {}: {}", r.kind.as_str(), list(&r.paths));
            if let Some(f) = &r.coverage_format {
                let _ = write!(s, " format {f}");
            }
            self.line(i, &s);
        }
    }

    fn retry(&mut self, indent: usize, retry: &Option<Retry>) {
        let Some(r) = retry else { return };
        let mut s = format!("retry: max {}", r.max.map_or("default".into(), |m| m.to_string()));
        if !r.when.is_empty() {
            let w: Vec<&str> = r.when.iter().map(|w| w.as_str()).collect();
            let _ = write!(s, " when [{}]", w.join(", "));
        }
        if !r.exit_codes.is_empty() {
            let _ = write!(s, " exit_codes {:?}", r.exit_codes);
        }
        self.line(indent, &s);
    }

    fn id_tokens(&mut self, indent: usize, tokens: &[IdToken]) {
        for t in tokens {
            self.line(indent, &format!("id_token {}: aud {}", t.name.value, strs(&t.aud)));
        }
    }

    fn job(&mut self, job: &Job) {
        let kind = if job.is_trigger() { "trigger job" } else { "job" };
        let stage = if job.stage_explicit {
            job.stage.value.clone()
        } else {
            format!("{} (default)", job.stage.value)
        };
        self.line(0, &format!("{kind} {:?} stage {stage}:", job.name.value));
        let i = 1;
        self.script(i, "before_script", &job.before_script);
        self.script(i, "script", &job.script);
        self.script(i, "after_script", &job.after_script);
        self.hooks(i, &job.hooks);
        if let Some(im) = &job.image {
            self.line(i, &format!("image: {}", image(im)));
        }
        self.services(i, &job.services);
        self.variables(i, "variables", &job.variables);
        if let Some(rules) = &job.rules {
            self.rules(i, rules);
        }
        for (title, policy) in [("only", &job.only), ("except", &job.except)] {
            if let Some(p) = policy {
                let mut s = format!("{title}: refs {}", list(&p.refs));
                if !p.variables.is_empty() {
                    let _ = write!(s, " variables {}", list(&p.variables));
                }
                if !p.changes.is_empty() {
                    let _ = write!(s, " changes {}", list(&p.changes));
                }
                if p.kubernetes {
                    s.push_str(" kubernetes active");
                }
                self.line(i, &s);
            }
        }
        if let Some(w) = &job.when {
            self.line(i, &format!("when: {}", w.value.as_str()));
        }
        if let Some(d) = &job.start_in {
            self.line(i, &format!("start_in: {}", duration(d)));
        }
        if let Some(a) = &job.allow_failure {
            self.line(i, &format!("allow_failure: {}", allow_failure(a)));
        }
        if let Some(needs) = &job.needs {
            self.line(i, "needs:");
            for n in needs {
                self.line(i + 1, &format!("- {}", need(n)));
            }
        }
        if let Some(d) = &job.dependencies {
            self.line(i, &format!("dependencies: {}", list(d)));
        }
        self.artifacts(i, &job.artifacts);
        self.caches(i, &job.cache);
        self.retry(i, &job.retry);
        if let Some(t) = &job.timeout {
            self.line(i, &format!("timeout: {}", duration(t)));
        }
        if let Some(t) = &job.tags {
            self.line(i, &format!("tags: {}", list(t)));
        }
        match &job.parallel {
            Some(Parallel::Count(n)) => self.line(i, &format!("parallel: {}", n.value)),
            Some(Parallel::Matrix { entries, .. }) => {
                self.line(i, &format!("parallel: matrix {}", matrix(entries)))
            }
            None => {}
        }
        self.trigger(i, &job.trigger);
        self.environment(i, &job.environment);
        if let Some(r) = &job.resource_group {
            self.line(i, &format!("resource_group: {:?}", r.value));
        }
        if let Some(b) = job.interruptible {
            self.line(i, &format!("interruptible: {b}"));
        }
        if let Some(c) = &job.coverage {
            self.line(i, &format!("coverage: /{}/", c.value));
        }
        self.release(i, &job.release);
        for s in &job.secrets {
            self.line(
                i,
                &format!("secret {}: {:?} file={} token={:?}", s.name.value, s.provider, s.file, s.token),
            );
        }
        self.id_tokens(i, &job.id_tokens);
        if let Some(Identity::GoogleCloud) = job.identity {
            self.line(i, "identity: google_cloud");
        }
        match &job.pages {
            Some(Pages::Bool(b)) => self.line(i, &format!("pages: {b}")),
            Some(Pages::Config { publish, path_prefix, expire_in }) => self.line(
                i,
                &format!(
                    "pages: publish={publish:?} path_prefix={path_prefix:?} expire_in={}",
                    expire_in.as_ref().map_or("None".into(), duration)
                ),
            ),
            None => {}
        }
        if let Some(p) = &job.publish {
            self.line(i, &format!("publish: {p:?}"));
        }
        if let Some(m) = &job.manual_confirmation {
            self.line(i, &format!("manual_confirmation: {m:?}"));
        }
        if let Some(steps) = &job.run {
            self.line(i, "run:");
            for s in steps {
                let kind = match &s.kind {
                    StepKind::Script(t) => format!("script {t:?}"),
                    StepKind::Func(f) => format!("func {f:?}"),
                    StepKind::Step(n) => format!("step {}", crate::yaml::to_yaml(n).trim()),
                };
                self.line(i + 1, &format!("- {} {kind}", s.name.value));
            }
        }
        if job.inherit != Inherit::default() {
            let show = |s: &InheritSetting| match s {
                InheritSetting::All(b) => b.to_string(),
                InheritSetting::Only(k) => list(k),
            };
            self.line(
                i,
                &format!(
                    "inherit: default {} variables {}",
                    show(&job.inherit.default),
                    show(&job.inherit.variables)
                ),
            );
        }
        if let Some(d) = &job.dast_configuration {
            self.line(
                i,
                &format!("dast_configuration: site {:?} scanner {:?}", d.site_profile, d.scanner_profile),
            );
        }
        for input in &job.inputs {
            self.line(i, &format!("input {}", input.name.value));
        }
    }

    fn trigger(&mut self, i: usize, trigger: &Option<Trigger>) {
        let Some(t) = trigger else { return };
        let target = match &t.target {
            TriggerTarget::Project { project, branch } => {
                format!(
                    "project {:?}{}",
                    project.value,
                    branch.as_ref().map_or(String::new(), |b| format!(" branch {:?}", b.value))
                )
            }
            TriggerTarget::Child(includes) => {
                let inc: Vec<String> = includes
                    .iter()
                    .map(|inc| match inc {
                        TriggerInclude::Local(s) => format!("local {:?}", s.value),
                        TriggerInclude::Template(s) => format!("template {:?}", s.value),
                        TriggerInclude::Remote(s) => format!("remote {:?}", s.value),
                        TriggerInclude::Component(s) => format!("component {:?}", s.value),
                        TriggerInclude::Artifact { artifact, job } => {
                            format!("artifact {:?} of job {:?}", artifact.value, job.value)
                        }
                        TriggerInclude::Project { project, file, ref_ } => format!(
                            "project {:?} file {}{}",
                            project.value,
                            list(file),
                            ref_.as_ref().map_or(String::new(), |r| format!(" ref {:?}", r.value))
                        ),
                    })
                    .collect();
                format!("child [{}]", inc.join(", "))
            }
        };
        let mut s = format!("trigger: {target}");
        match t.strategy {
            Some(TriggerStrategy::Depend) => s.push_str(" strategy depend"),
            Some(TriggerStrategy::Mirror) => s.push_str(" strategy mirror"),
            None => {}
        }
        if t.forward != Forward::default() {
            let _ = write!(
                s,
                " forward yaml_variables={} pipeline_variables={}",
                t.forward.yaml_variables, t.forward.pipeline_variables
            );
        }
        if let Some(inputs) = &t.inputs {
            let _ = write!(s, " inputs {}", crate::yaml::to_yaml(inputs).trim().replace('\n', "; "));
        }
        self.line(i, &s);
    }

    fn environment(&mut self, i: usize, env: &Option<Environment>) {
        let Some(e) = env else { return };
        let mut s = format!("environment: {:?}", e.name.value);
        if let Some(u) = &e.url {
            let _ = write!(s, " url {u:?}");
        }
        if let Some(a) = e.action {
            let _ = write!(s, " action {}", a.as_str());
        }
        if let Some(o) = &e.on_stop {
            let _ = write!(s, " on_stop {:?}", o.value);
        }
        if let Some(a) = &e.auto_stop_in {
            let _ = write!(s, " auto_stop_in {a:?}");
        }
        if let Some(t) = e.deployment_tier {
            let _ = write!(s, " tier {}", t.as_str());
        }
        if let Some(k) = &e.kubernetes {
            let _ = write!(
                s,
                " kubernetes(namespace={:?} agent={:?} flux={:?})",
                k.namespace, k.agent, k.flux_resource_path
            );
        }
        self.line(i, &s);
    }

    fn release(&mut self, i: usize, release: &Option<Release>) {
        let Some(r) = release else { return };
        self.line(i, &format!("release: tag {:?} description {:?}", r.tag_name, r.description));
        for (k, v) in [
            ("name", &r.name),
            ("tag_message", &r.tag_message),
            ("ref", &r.ref_),
            ("released_at", &r.released_at),
        ] {
            if let Some(v) = v {
                self.line(i + 1, &format!("{k}: {v:?}"));
            }
        }
        if !r.milestones.is_empty() {
            self.line(i + 1, &format!("milestones: {}", strs(&r.milestones)));
        }
        for l in &r.links {
            self.line(
                i + 1,
                &format!(
                    "link {:?} {:?} filepath={:?} direct_asset_path={:?} type={:?}",
                    l.name, l.url, l.filepath, l.direct_asset_path, l.link_type
                ),
            );
        }
    }
}
