#!/usr/bin/env bash
# Usage: tools/check_untouched.sh <commit>
#
# Proves that <commit> (e.g. the one that added services/reporting) changed no file of the four
# services it must not touch: intake, session, billing, retention. Prints the offending files and
# exits 1 if it did; exits 0 otherwise, 2 on usage errors. Run from anywhere inside the checkout.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 <commit>" >&2
    exit 2
fi
commit=$1
cd "$(git rev-parse --show-toplevel)"
if ! git rev-parse --verify --quiet "${commit}^{commit}" >/dev/null; then
    echo "check_untouched: unknown commit ${commit}" >&2
    exit 2
fi

# diff-tree handles a root commit too (no parent): --root compares it with the empty tree.
# A merge commit is compared with its first parent (what the merge brought into the branch);
# plain diff-tree would print nothing for a merge.
if git rev-parse --verify --quiet "${commit}^2" >/dev/null; then
    touched=$(git diff --name-only "${commit}^1" "${commit}" -- \
        services/intake services/session services/billing services/retention)
else
    touched=$(git diff-tree --root --no-commit-id --name-only -r "${commit}" -- \
        services/intake services/session services/billing services/retention)
fi
if [[ -n "${touched}" ]]; then
    echo "check_untouched: ${commit} changes files of services that must stay untouched:" >&2
    echo "${touched}" >&2
    exit 1
fi
echo "check_untouched: ${commit} leaves services/{intake,session,billing,retention} untouched"
