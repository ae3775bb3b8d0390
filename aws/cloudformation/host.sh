#!/usr/bin/env bash
# SlideRule Provisioner: the host setup of a TEST or RELEASE machine
# (Amazon Linux 2023, arm64 or x86_64), run as root before the job script.
# It installs what the sliderule repository's nightly runner
# (apps/provisioner/test.sh) installs, plus what the plans' host steps need:
#
#   git, make, rsync, wget, docker (enabled and started)
#   Node.js 20 (node, npm, npx on PATH) and the system libraries Playwright's
#     Chromium needs (what `playwright install --with-deps` would install with
#     apt-get, which this OS lacks)
#   Miniforge at /opt/miniforge (mamba, conda on PATH)
#   /data filled from s3://DATA_BUCKET/DATA_PREFIX/server/ and .../ams/
#   a docker login to REGISTRY (Amazon ECR), for the build environment image
#
# Inputs, all from the environment (the job's extra variables):
#   AWS_REGION    the region (needed with REGISTRY)
#   REGISTRY      optional: ECR registry host to log docker in to
#   DATA_BUCKET   optional: bucket whose PREFIX/server and PREFIX/ams fill /data
#   DATA_PREFIX   optional: key prefix in DATA_BUCKET, without slashes at
#                 either end (production: its project folder, e.g. cf)
#   DATA_DIR      optional: where the data goes (default /data)
#
# The job script then clones the repository into WORK_DIR/sliderule (the
# Dockerfiles COPY sliderule). Idempotent: a second run changes nothing
# that is in place. Run with bash -eo pipefail.
set -eo pipefail

dnf install -y -q git make rsync wget docker tar gzip bzip2 which findutils
systemctl enable --now docker

if ! command -v node >/dev/null; then
	dnf install -y -q nodejs20 nodejs20-npm
	for t in node npm npx; do
		if command -v "$t-20" >/dev/null; then ln -sf "$(command -v "$t-20")" "/usr/local/bin/$t"; fi
	done
fi
# Chromium's libraries; a name the OS does not know is skipped.
dnf install -y -q --setopt=strict=0 nss nspr atk at-spi2-atk cups-libs libdrm libxkbcommon \
	libXcomposite libXdamage libXfixes libXrandr mesa-libgbm pango cairo alsa-lib libxshmfence

if [ ! -x /opt/miniforge/bin/mamba ]; then
	wget -q -O /tmp/miniforge.sh "https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-$(uname -m).sh"
	bash /tmp/miniforge.sh -b -p /opt/miniforge
	rm -f /tmp/miniforge.sh
fi
ln -sf /opt/miniforge/bin/mamba /opt/miniforge/bin/conda /usr/local/bin/

hs_data=${DATA_DIR:-/data}
mkdir -p -- "$hs_data"
if [ -n "${DATA_BUCKET:-}" ]; then
	hs_src=s3://$DATA_BUCKET/${DATA_PREFIX:+$DATA_PREFIX/}
	aws s3 sync --only-show-errors "${hs_src}server/" "$hs_data/"
	aws s3 sync --only-show-errors "${hs_src}ams/" "$hs_data/"
fi

if [ -n "${REGISTRY:-}" ]; then
	aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "$REGISTRY"
fi
