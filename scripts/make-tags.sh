#!/usr/bin/env bash
# make-tags.sh CLONE OUTDIR: writes OUTDIR/<tag>.txt, the layout of every
# SlideRule release tag >= v4.0.0 (vMAJOR.MINOR.PATCH) of a clone, for
# `provisioner plans check --tags OUTDIR` and the plan tests (SLIDERULE_REF).
#
# It reads only the clone's git objects (git ls-tree / git show of each tag;
# no checkout, no network). CLONE may be a work tree or a bare/mirror git dir.
# Each file is plain text, sections in this order:
#
#   # sliderule <tag> <commit>
#   ## directories                   every directory of depth <= 3, one a line,
#   <dir>                            except docs/ and dot-directories
#   ## files                         Makefiles and a few build files
#   <path>                           (environment.yml, package.json, conftest.py,
#                                    Dockerfile*, pytest.ini, requirements.txt; depth <= 5)
#   ## targets <Makefile>            one section per root Makefile and targets/*/Makefile:
#   <target> <target> ...            its explicit targets (lines `name:`), sorted, one line
set -euo pipefail
clone=${1:?usage: make-tags.sh CLONE OUTDIR}
out=${2:?usage: make-tags.sh CLONE OUTDIR}
mkdir -p "$out"
git -C "$clone" tag --list 'v*' | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' | sort -V | while read -r tag; do
	major=${tag#v}
	major=${major%%.*}
	[ "$major" -ge 4 ] || continue
	{
		printf '# sliderule %s %s\n' "$tag" "$(git -C "$clone" rev-parse "$tag^{commit}")"
		echo '## directories'
		git -C "$clone" ls-tree -r -d --name-only "$tag" | awk -F/ 'NF <= 3' | grep -vE '^(docs|\.)' || true
		echo '## files'
		git -C "$clone" ls-tree -r --name-only "$tag" |
			grep -E '(^|/)(Makefile|environment\.yml|package\.json|conftest\.py|Dockerfile[^/]*|pytest\.ini|requirements\.txt)$' |
			awk -F/ 'NF <= 5' || true
		git -C "$clone" ls-tree -r --name-only "$tag" | grep -E '^(Makefile|targets/[^/]+/Makefile)$' | while read -r mk; do
			printf '## targets %s\n' "$mk"
			git -C "$clone" show "$tag:$mk" | grep -oE '^[A-Za-z0-9_.-]+:' | grep -v '^\.' | tr -d ':' | sort -u | tr '\n' ' '
			echo
		done
	} >"$out/$tag.txt"
done
ls "$out" | wc -l
