//! The README's curl examples, run as written against the three real services: every `sh`
//! block that talks to `localhost:3000`, `:3002` or `:3003`, in the README's order, in one
//! shell environment (`TOKEN` and the variables the examples set carry over), with only the
//! ports changed to the ones the test services got. Each request must answer the status a
//! comment beside or below it names (`# 201 Created`, `# 404 ...`), and any other request a
//! status below 400.
//!
//! The README leaves some values for the reader to copy from an earlier answer; the test fills
//! them the same way: `JANE=<Jane's id>` with the id calendar gives Jane once it knows her,
//! `EVENT=<event id>` and `<id>` from the last `Location`, `<etag from above>` from the last
//! `ETag`, `<userId>` with the id of the participant the examples invited (Bob).

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use system_tests::{Mail, PATIENCE, TestSystem, workspace_root};
use test_support::wait_until;

/// One runnable line of a README example.
#[derive(Debug)]
enum Step {
    /// `curl ...`, with the status its comment names, if any.
    Curl { line: usize, command: String, expect: Option<u16> },
    /// `NAME=<what to copy>`.
    Copy { line: usize, name: String, what: String },
}

fn expected_status(comment: &str) -> Option<u16> {
    let digits: String = comment.trim().chars().take(3).collect();
    (digits.len() == 3 && digits.chars().all(|c| c.is_ascii_digit())).then(|| digits.parse().unwrap())
}

/// The steps of every `sh` block that talks to the services, in the README's order.
fn readme_steps(readme: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut block: Option<Vec<(usize, String)>> = None;
    for (i, line) in readme.lines().enumerate() {
        match (&mut block, line.trim_end()) {
            (None, "```sh") => block = Some(Vec::new()),
            (Some(lines), "```") => {
                let lines = std::mem::take(lines);
                block = None;
                let talks = lines.iter().any(|(_, l)| l.contains("localhost:300"));
                let only_requests = lines.iter().all(|(_, l)| {
                    let l = l.trim_start();
                    l.is_empty()
                        || l.starts_with('#')
                        || l.starts_with("curl ")
                        || l.starts_with('-')
                        || is_copy(l)
                });
                if talks && only_requests {
                    steps.extend(block_steps(&lines));
                }
            }
            (Some(lines), _) => lines.push((i + 1, line.to_string())),
            (None, _) => {}
        }
    }
    steps
}

fn is_copy(line: &str) -> bool {
    line.split_once('=').is_some_and(|(name, value)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_uppercase())
            && value.starts_with('<')
            && value.ends_with('>')
    })
}

fn block_steps(lines: &[(usize, String)]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (number, line) in lines {
        if let Some((start, text)) = &mut pending {
            text.push(' ');
            text.push_str(line.trim());
            if !text.ends_with('\\') {
                let (start, text) = (*start, std::mem::take(text));
                pending = None;
                steps.push(curl_step(start, &text));
            } else {
                text.pop();
            }
            continue;
        }
        let trimmed = line.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            if let (Some(expect), Some(Step::Curl { expect: slot @ None, .. })) =
                (expected_status(comment), steps.last_mut())
            {
                *slot = Some(expect);
            }
        } else if is_copy(trimmed) {
            let (name, what) = trimmed.split_once('=').unwrap();
            steps.push(Step::Copy { line: *number, name: name.into(), what: what.into() });
        } else if trimmed.starts_with("curl ") {
            if let Some(text) = trimmed.strip_suffix('\\') {
                pending = Some((*number, text.to_string()));
            } else {
                steps.push(curl_step(*number, trimmed));
            }
        }
    }
    steps
}

fn curl_step(line: usize, text: &str) -> Step {
    let (command, comment) = match text.split_once(" # ") {
        Some((command, comment)) => (command.trim(), Some(comment)),
        None => (text.trim(), None),
    };
    Step::Curl { line, command: command.to_string(), expect: comment.and_then(expected_status) }
}

/// The last value of a header in a `curl -D` dump (the final response's block).
fn header(dump: &str, name: &str) -> Option<String> {
    let last_block = dump.trim_end().rsplit("\r\n\r\n").next().unwrap_or(dump);
    last_block.lines().rev().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_string())
    })
}

fn last_segment(url: &str) -> String {
    url.trim_end_matches('/').rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn every_curl_example_in_the_readme_answers_as_the_readme_says() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let steps = readme_steps(&readme);
    let requests = steps.iter().filter(|s| matches!(s, Step::Curl { .. })).count();
    assert!(requests >= 15, "the README's curl examples were found: {steps:#?}");

    let mut system = TestSystem::start(Mail::Mailbox).await;
    let ports = [
        ("localhost:3000", system.contacts.port),
        ("localhost:3002", system.calendar.port),
        ("localhost:3003", system.notifications.port),
    ];
    let scratch = tempfile_dir();
    let (headers, body) = (scratch.join("headers"), scratch.join("body"));
    let mut env: HashMap<String, String> = HashMap::from([("TOKEN".into(), system.token.clone())]);
    let (mut location, mut etag) = (None::<String>, None::<String>);
    let mut failures = Vec::new();
    for step in &steps {
        match step {
            Step::Copy { line, name, what } => {
                let value = match name.as_str() {
                    // The README copies Jane's id once calendar "knows them": both contacts
                    // created above, Bob too, whom the next examples invite.
                    "JANE" => {
                        wait_for_user_id(&system, "bob@example.org").await;
                        wait_for_user_id(&system, "jane@example.org").await
                    }
                    _ => location.as_deref().map(last_segment).unwrap_or_else(|| {
                        panic!("README line {line}: nothing to copy for {name}={what} (no Location yet)")
                    }),
                };
                env.insert(name.clone(), value);
            }
            Step::Curl { line, command, expect } => {
                let mut command = command.clone();
                for (from, port) in ports {
                    command = command.replace(from, &format!("localhost:{port}"));
                }
                if command.contains("<etag from above>") {
                    let tag = etag.clone().unwrap_or_else(|| panic!("README line {line}: no ETag seen yet"));
                    command = command.replace("<etag from above>", tag.trim_matches('"'));
                }
                if command.contains("<userId>") {
                    command =
                        command.replace("<userId>", &wait_for_user_id(&system, "bob@example.org").await);
                }
                if command.contains("<id>") {
                    let id = location.as_deref().map(last_segment).unwrap();
                    command = command.replace("<id>", &id);
                }
                let run = format!(
                    "{command} -sS -D '{}' -o '{}' -w '%{{http_code}}'",
                    headers.display(),
                    body.display()
                );
                let out = tokio::process::Command::new("bash")
                    .arg("-c")
                    .arg(&run)
                    .env_clear()
                    .env("PATH", std::env::var("PATH").unwrap_or_default())
                    .envs(&env)
                    .output()
                    .await
                    .unwrap();
                let status: u16 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
                let dump = std::fs::read_to_string(&headers).unwrap_or_default();
                let ok = match expect {
                    Some(expect) => status == *expect,
                    None => (200..400).contains(&status),
                };
                if !ok {
                    let answer = std::fs::read_to_string(&body).unwrap_or_default();
                    failures.push(format!(
                        "README line {line}: `{command}` answered {status} (expected {}): {}{}",
                        expect.map_or("< 400".to_string(), |e| e.to_string()),
                        String::from_utf8_lossy(&out.stderr),
                        answer.chars().take(300).collect::<String>()
                    ));
                }
                if let Some(value) = header(&dump, "location") {
                    location = Some(value);
                }
                if let Some(value) = header(&dump, "etag") {
                    etag = Some(value);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    system.stop().await;
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("readme-examples-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The id calendar gives the user with this address, once it has them from the feed.
async fn wait_for_user_id(system: &TestSystem, email: &str) -> String {
    wait_until(&format!("calendar to know {email}"), PATIENCE, || async {
        system.all_users().await.into_iter().find(|u| u.email == email).map(|u| u.id)
    })
    .await
}

#[test]
fn the_readme_parser_reads_continuations_comments_and_copies() {
    let readme = "text\n```sh\ncurl -i -X POST localhost:3000/x \\\n  -d '{}'\n# 201 Created\nA=<the id>\ncurl -s localhost:3002/y   # 404 before\n```\n```sh\ncargo run\ncurl localhost:3000/z\n```\n";
    let steps = readme_steps(readme);
    assert_eq!(steps.len(), 3, "{steps:#?}");
    assert!(
        matches!(&steps[0], Step::Curl { line: 3, command, expect: Some(201) } if command == "curl -i -X POST localhost:3000/x  -d '{}'")
    );
    assert!(matches!(&steps[1], Step::Copy { name, .. } if name == "A"));
    assert!(
        matches!(&steps[2], Step::Curl { expect: Some(404), command, .. } if command == "curl -s localhost:3002/y")
    );
}
