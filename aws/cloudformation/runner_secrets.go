package cloudformation

import (
	"context"

	"provisioner"
	"provisioner/plan"
)

// maxSecretsObject bounds RunnerConfig.SecretsKey's object.
const maxSecretsObject = 256 << 10

// checkSecrets reads the operator's secrets object (SecretsKey), if any,
// and checks it as the machine will read it, so that a job does not start
// with secrets it cannot use. The values stay here.
func (r *Runner) checkSecrets(ctx context.Context) error {
	if r.cfg.SecretsKey == "" {
		return nil
	}
	b, err := r.get(ctx, r.cfg.SecretsKey, maxSecretsObject)
	if err != nil {
		return err
	}
	if b == nil {
		return provisioner.Errorf(provisioner.EINTERNAL, "the job secrets object s3://%s/%s does not exist", r.cfg.Bucket, r.cfg.SecretsKey)
	}
	if _, err := plan.ParseSecrets(b); err != nil {
		return provisioner.Errorf(provisioner.EINTERNAL, "the job secrets object s3://%s/%s: %v", r.cfg.Bucket, r.cfg.SecretsKey, err)
	}
	return nil
}
