//! The structural checks of `include:` and `spec:` values that the model and
//! the schema conformance test call: GitLab's messages, at the right node.

use kiln_config::compose::{check_include_syntax, check_spec_syntax};
use kiln_config::diag::Diagnostics;
use kiln_config::source::SourceMap;
use kiln_config::yaml::{self, Limits};

/// Checks the value under `key` of `text` and renders the diagnostics.
fn check(key: &str, text: &str) -> Vec<String> {
    let mut sources = SourceMap::default();
    let file = sources.add("x.yml", text);
    let docs = yaml::load_documents(file, text, &Limits::default()).unwrap();
    let node = docs[0].get(key).unwrap();
    let mut diags = Diagnostics::default();
    match key {
        "include" => check_include_syntax(node, &mut diags),
        _ => check_spec_syntax(node, &mut diags),
    }
    diags.iter().map(|d| d.display(&sources).to_string()).collect()
}

#[test]
fn every_documented_include_form_is_accepted() {
    let text = r#"
include:
  - ci/a.yml
  - https://example.com/ci.yml
  - local: /ci/b.yaml
    rules:
      - if: $CI_COMMIT_BRANCH == "main"
        when: always
      - exists: [Dockerfile]
      - changes:
          paths: [src/**/*]
          compare_to: main
  - project: group/project
    ref: v1
    file: [a.yml, b.yml]
  - remote: https://example.com/x.yml
    integrity: sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
    cache: 1 hour
  - template: Auto-DevOps.gitlab-ci.yml
  - component: $CI_SERVER_FQDN/group/project/component@1.0
    inputs:
      stage: test
  - local: $FILE
"#;
    assert_eq!(check("include", text), Vec::<String>::new());
}

#[test]
fn include_mistakes_are_reported_in_gitlab_words() {
    let text = r#"
include:
  - 12
  - local: a.yml
    remote: https://example.com/b.yml
  - project: group/project
  - foo: bar.yml
  - local: a.txt
    cache: true
  - local: [a.yml]
  - remote: not-a-url.yml
    integrity: md5-abc
  - local: a.yml
    rules:
      - if: ""
        when: on_success
        unless: x
"#;
    insta::assert_snapshot!(check("include", text).join("\n"), @r#"
    x.yml:3:5: error: Each include must be a hash or a string
    x.yml:4:5: error: Each include must use only one of: `local`, `project`, `remote`, `template`, `artifact`, `component`
    x.yml:6:5: error: include config must specify the file where to fetch the config from
    x.yml:7:5: error: include config contains unknown keys: foo
    x.yml:7:5: error: `{"foo":"bar.yml"}` does not have a valid subkey for include. Valid subkeys are: `local`, `project`, `remote`, `template`, `artifact`, `component`
    x.yml:8:12: error: Included file `a.txt` does not have YAML extension!
    x.yml:8:5: error: include config cache can only be specified for remote includes
    x.yml:10:12: error: Included file `["a.yml"]` needs to be a string
    x.yml:11:13: error: Remote file `not-a-url.yml` does not have a valid address!
    x.yml:12:16: error: include config integrity hash must start with 'sha256-'
    x.yml:17:9: error: include:rules:rule config contains unknown keys: unless
    x.yml:15:13: error: include:rules:rule if invalid expression syntax
    x.yml:16:15: error: include:rules:rule when unknown value: on_success
    "#);
}

#[test]
fn spec_headers_are_checked_and_defaults_validated() {
    let text = r#"
spec:
  description: reusable job
  component: [name, branch]
  interruptible: true
  inputs:
    plain:
    stage:
      default: test
      options: [build, test]
    count:
      type: number
      default: "3"
    flag:
      type: boolean
      default: true
      options: [true]
    version:
      regex: ^v\d+$
      default: "1.0"
    odd:
      type: object
    typo:
      defualt: x
    both:
      default: a
      rules:
        - if: $CI
          default: b
"#;
    insta::assert_snapshot!(check("spec", text).join("\n"), @r#"
    x.yml:5:3: error: header:spec config contains unknown keys: interruptible
    x.yml:4:21: error: header:spec component contains unknown value: branch (allowed: name, sha, version, reference)
    x.yml:13:16: error: `count` input: default value is not a number
    x.yml:16:16: error: `flag` input: Options can only be used with string and number inputs
    x.yml:20:16: error: `version` input: default value does not match required RegEx pattern
    x.yml:22:13: error: header:spec:inputs:odd input type unknown value: object
    x.yml:24:7: error: header:spec:inputs:typo config contains unknown keys: defualt
    x.yml:26:7: error: header:spec:inputs:both config these keys cannot be used together: rules, default
    "#);
}

#[test]
fn a_spec_that_is_not_a_hash_is_one_error() {
    assert_eq!(
        check("spec", "spec: [inputs]\n"),
        vec!["x.yml:1:7: error: header:spec config should be a hash"]
    );
}
