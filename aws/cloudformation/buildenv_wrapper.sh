# shellcheck shell=bash
# buildenv_wrapper.sh: BuildEnvWrapper, a container wrapper (the job's
# CONTAINER_WRAPPER) that runs a container step in the SlideRule build
# environment. The job script appends the step's command ("$@"); the runner
# passes this command as one line, without its comments.
# shellcheck disable=SC2046 # one "-e NAME" word pair per secret the step declares
docker run --rm --network host -v "$CHECKOUT_DIR:$CHECKOUT_DIR" -v /data:/data -w "$PWD" \
	-e JOB_ID -e JOB_KIND -e CLUSTER -e ORGANIZATION -e VERSION -e DOMAIN -e CHECKOUT_DIR -e WORK_DIR -e STEP_NAME \
	-e AWS_REGION -e AWS_DEFAULT_REGION $(for n in $STEP_SECRETS; do printf -- "-e %s " "$n"; done) "$REGISTRY/sliderule-buildenv:latest"
