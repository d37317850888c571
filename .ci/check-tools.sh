#!/usr/bin/env bash
# The third-party readers the black-box tests check our Atom and iCalendar output with
# (test-support/python/: expat, feedparser, icalendar, vobject, recurring-ical-events), installed
# into target/check-venv-* from the pinned requirements file, and shown to tell good documents
# from broken ones. The tests would install them on first use too; doing it first makes a failed
# install (no python3-venv, no PyPI) one clear failure. Under CI=true a missing tool fails.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
cargo test -p test-support --locked --lib python:: -- --nocapture
echo "check tools ready in $((SECONDS - started)) s"
