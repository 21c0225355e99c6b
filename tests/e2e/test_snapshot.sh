#!/usr/bin/env bash
# test_snapshot.sh - the snapshot runner: runs tied to their git commit,
# the dirty-tree policies and the run manifest (docs/running-logic.md);
# and a stack of wrapping runners.
# shellcheck disable=SC2317  # test functions are called by run_tests
. "$(dirname "$0")/lib.sh"

export GIT_AUTHOR_NAME=e2e GIT_AUTHOR_EMAIL=e2e@example.org
export GIT_COMMITTER_NAME=e2e GIT_COMMITTER_EMAIL=e2e@example.org
export GIT_CONFIG_NOSYSTEM=1 HOME=$E2E_TMP

# make_project in a fresh git repository, committed, with a snapshot runner
# `tracked` (dirty: MODE) wrapping sequential; outputs are ignored.  The
# repository is the folder proj/, entered (the harness keeps its files in
# the test's own folder).
git_project()
{
    mkdir proj && cd proj || fail "cannot make proj/"
    make_project .
    write_file conf/base/runner.yml <<EOF
default: sequential
runners:
  sequential: {type: sequential}
  tracked: {type: snapshot, runner: sequential, dirty: $1}
EOF
    printf 'data/\nran.log\ntries\n' >.gitignore
    git init -q . && git add -A && git commit -qm init || fail "cannot make a git repository"
}

need_git()
{
    command -v git >/dev/null 2>&1 || { e2e_checked; echo "SKIP: no git"; return 1; }
}

test_refuse_runs_nothing_on_a_dirty_tree()
{
    need_git || return 0
    git_project refuse
    echo scratch >notes.txt
    run_crun --runner tracked
    expect_status 1
    expect_stderr_contains "uncommitted changes"
    expect_stderr_contains "notes.txt"
    expect_no_file ran.log
    expect_no_file data/greeting.txt
}

test_refuse_runs_on_a_clean_tree()
{
    need_git || return 0
    git_project refuse
    run_crun --runner tracked
    expect_status 0
    expect_ran "make_count greet"
    expect_file_content data/greeting.txt "hello 3"
}

test_commit_leaves_branch_index_and_tree_as_they_were()
{
    need_git || return 0
    git_project commit
    echo untracked >new.txt
    echo "count: 4" >conf/base/parameters.yml
    echo staged >staged.txt
    git add staged.txt
    local status head index branch
    status=$(git status --porcelain)
    head=$(git rev-parse HEAD)
    index=$(sha256sum <.git/index)
    branch=$(git symbolic-ref HEAD)
    run_crun --runner tracked --run-id snap1
    expect_status 0
    expect_eq "$(git status --porcelain)" "$status" "git status"
    expect_eq "$(git rev-parse HEAD)" "$head" "HEAD"
    expect_eq "$(sha256sum <.git/index)" "$index" "the index"
    expect_eq "$(git symbolic-ref HEAD)" "$branch" "the branch"
    expect_eq "$(git rev-parse refs/crun/runs/snap1^)" "$head" "the snapshot's parent"
    expect_eq "$(git show refs/crun/runs/snap1:new.txt)" "untracked" "the untracked file"
    expect_eq "$(git show refs/crun/runs/snap1:staged.txt)" "staged" "the staged file"
    expect_eq "$(git show refs/crun/runs/snap1:conf/base/parameters.yml)" "count: 4" "a change"
    expect_eq "$(git ls-tree -r --name-only refs/crun/runs/snap1 | grep -c '^data/\|^\.crun/')" 0 \
        "ignored files and .crun/ in the snapshot"
    expect_file_content data/greeting.txt "hello 4"
}

test_the_manifest_says_what_the_run_ran_on()
{
    need_git || return 0
    [ "$HAVE_PYTHON" = 1 ] || { e2e_checked; return 0; }
    git_project record
    write_file conf/base/catalog.yml <<'EOF'
greeting: {type: text, filepath: data/greeting.txt, versioned: true}
EOF
    git commit -qam versioned
    echo more >>README
    run_crun --runner tracked --run-id man1 --params count=5
    expect_status 0
    local m=.crun/runs/man1/manifest.json
    expect_json "$m"
    expect_eq "$(json_query "$m" 'd["commit"]')" "$(git rev-parse HEAD)" "commit"
    expect_eq "$(json_query "$m" 'd["dirty"]')" "True" "dirty"
    expect_eq "$(json_query "$m" 'd["changes"]')" '["?? README"]' "changes"
    expect_eq "$(json_query "$m" 'd["snapshot_ref"]')" "None" "snapshot_ref"
    expect_eq "$(json_query "$m" 'd["status"]')" "succeeded" "status"
    expect_eq "$(json_query "$m" 'd["crun_version"]')" \
        "$("$CRUN" --version | awk '{print $2}')" "crun_version"
    expect_eq "$(json_query "$m" 'd["runner_stack"]')" '["tracked", "sequential"]' "runner_stack"
    expect_eq "$(json_query "$m" 'd["parameters"]')" '{"count": 5}' "parameters"
    expect_eq "$(json_query "$m" 'd["env"]')" "local" "env"
    expect_eq "$(json_query "$m" 'sorted(p["name"] for p in d["plugins"] if p["kind"] == "runner")')" \
        '["sequential", "snapshot"]' "runner plugins"
    expect_eq "$(json_query "$m" 'all(len(p["xxh3_128"]) == 32 for p in d["plugins"])')" "True" \
        "plugin hashes"
    expect_eq "$(json_query "$m" '[(x["name"], x["filepath"]) for x in d["datasets"]]')" \
        '[["greeting", "data/greeting.txt"]]' "datasets"
    expect_eq "$(json_query "$m" 'd["datasets"][0]["version"]')" "$(ls data/greeting.txt)" "version"
    [ -z "$(ls .crun/runs/man1 | grep -v '^manifest.json$\|^save-version$')" ] ||
        fail "left files next to the manifest: $(ls .crun/runs/man1)"
}

test_a_failed_run_writes_a_failed_manifest()
{
    need_git || return 0
    [ "$HAVE_PYTHON" = 1 ] || { e2e_checked; return 0; }
    git_project record
    sed -i 's/echo hello/exit 1; echo hello/' conf/base/pipelines.yml
    git commit -qam broken
    run_crun --runner tracked --run-id bad1
    expect_status 1
    expect_stderr_contains "the run failed at node 'greet'"
    expect_eq "$(json_query .crun/runs/bad1/manifest.json 'd["status"]')" "failed" "status"
}

test_outside_a_git_work_tree_is_a_config_error()
{
    need_git || return 0
    make_project .
    write_file conf/base/runner.yml <<'EOF'
runners:
  tracked: {type: snapshot, runner: sequential}
EOF
    GIT_CEILING_DIRECTORIES=$(dirname "$PWD") run_crun --runner tracked
    expect_status 2
    expect_stderr_contains "not in a git work tree"
    expect_no_file ran.log
}

test_a_stack_of_four_runners_works()
{
    need_git || return 0
    [ "$HAVE_PYTHON" = 1 ] || { e2e_checked; return 0; }
    git_project commit
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: make_count
        cmd: [sh, -c, "echo make_count >> ran.log; cat {inputs.n} > {outputs.count}"]
        inputs: {n: "params:count"}
        outputs: {count: count}
      - name: greet
        cmd: [sh, -c, "echo greet >> ran.log; n=$(cat tries 2>/dev/null || echo 0); echo $((n+1)) > tries; [ $n -ge 1 ] || exit 1; echo hello $(cat {inputs.c}) > {outputs.g}"]
        inputs: {c: count}
        outputs: {g: greeting}
EOF
    write_file conf/base/runner.yml <<'EOF'
default: tracked
runners:
  sequential: {type: sequential}
  sturdy: {type: retry, runner: sequential, attempts: 2}
  safe: {type: checks, runner: sturdy, before: {lint: [sh, -c, "echo lint >> data/checks.log"]}}
  tracked: {type: snapshot, runner: safe, dirty: commit}
EOF
    git add -A && git commit -qm stack
    run_crun --run-id stack1
    expect_status 0
    expect_ran "make_count greet make_count greet"
    expect_file_content data/greeting.txt "hello 3"
    expect_file_content data/checks.log "lint"
    local m=.crun/runs/stack1/manifest.json
    expect_eq "$(json_query "$m" 'd["runner_stack"]')" '["tracked", "safe", "sturdy", "sequential"]' \
        "runner_stack"
    expect_eq "$(json_query "$m" 'd["snapshot_ref"]')" "refs/crun/runs/stack1" "snapshot_ref"
    expect_eq "$(git rev-parse refs/crun/runs/stack1^{tree})" "$(git rev-parse HEAD^{tree})" \
        "a clean tree's snapshot"
}

run_tests "$@"
