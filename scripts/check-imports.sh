#!/usr/bin/env bash
# The module rules of docs/ARCHITECTURE.md, checked: each module imports only the modules it may.
# Run by `make test` (and so by CI). Prints each violation as FILE:LINE and exits 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."
# System and toolchain modules anyone may import (Synchronization: the standard library's atomics).
common="Foundation Dispatch Synchronization Glibc Darwin"
declare -A allowed=(
    [Plumbing]=""
    [Engine]="CBLAS CKernels CDNNL CCUDA"
    [Checkpoints]="Engine Plumbing CHDF5"
    [Tokenizer]="Plumbing"
    [TestSets]="Checkpoints Tokenizer Plumbing"
    [Analysis]="Engine Checkpoints TestSets Tokenizer Plumbing CBLAS"
    [Report]="Analysis Plumbing CCairo Mustache TOMLKit"
    [gpt2lab]="Engine Checkpoints Tokenizer TestSets Analysis Report Plumbing ArgumentParser"
)
status=0
for module in "${!allowed[@]}"; do
    ok=" $common ${allowed[$module]} "
    while IFS=: read -r file line text; do
        name=$(sed -E 's/^[[:space:]]*(@testable[[:space:]]+|@_exported[[:space:]]+)?import[[:space:]]+([A-Za-z0-9_]+).*/\2/' <<<"$text")
        if [[ "$ok" != *" $name "* ]]; then
            echo "$file:$line: $module may not import $name (docs/ARCHITECTURE.md)"; status=1
        fi
    done < <(grep -rnE '^[[:space:]]*(@testable[[:space:]]+|@_exported[[:space:]]+)?import[[:space:]]' "Sources/$module" --include='*.swift' || true)
done
# Nothing imports the CLI, not even the tests (they run the built binary).
if grep -rnE '^[[:space:]]*(@testable[[:space:]]+)?import[[:space:]]+gpt2lab\b' Sources Tests fuzz --include='*.swift'; then
    echo "the gpt2lab CLI module is imported above; move what is shared into a library"; status=1
fi
[ $status -eq 0 ] && echo "imports: every module within docs/ARCHITECTURE.md's rules"
exit $status
