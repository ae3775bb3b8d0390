package scheduler

import (
	"fmt"
	"strconv"
	"time"
)

// The environment variables ConfigFromEnv reads; deploy/provisioner.yaml
// sets them on the provisioner Lambda.
const (
	EnvGroup         = "PROVISIONER_SCHEDULE_GROUP"
	EnvPrefix        = "PROVISIONER_PREFIX"
	EnvTargetARN     = "PROVISIONER_FUNCTION_ARN"
	EnvRoleARN       = "PROVISIONER_SCHEDULER_ROLE_ARN"
	EnvDeadLetterARN = "PROVISIONER_DLQ_ARN"
	EnvMaxRetries    = "PROVISIONER_SCHEDULE_MAX_RETRIES"   // optional, 0-185
	EnvMaxEventAge   = "PROVISIONER_SCHEDULE_MAX_EVENT_AGE" // optional, a Go duration
)

// ConfigFromEnv reads a Config from the environment (getenv is os.Getenv
// in production). Group, prefix, target and role are required.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Group:         getenv(EnvGroup),
		Prefix:        getenv(EnvPrefix),
		TargetARN:     getenv(EnvTargetARN),
		RoleARN:       getenv(EnvRoleARN),
		DeadLetterARN: getenv(EnvDeadLetterARN),
	}
	for _, v := range [][2]string{{EnvGroup, c.Group}, {EnvPrefix, c.Prefix}, {EnvTargetARN, c.TargetARN}, {EnvRoleARN, c.RoleARN}} {
		if v[1] == "" {
			return Config{}, fmt.Errorf("scheduler: %s is not set", v[0])
		}
	}
	if v := getenv(EnvMaxRetries); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 185 {
			return Config{}, fmt.Errorf("scheduler: %s=%q: want 0 to 185", EnvMaxRetries, v)
		}
		if n == 0 {
			n = -1 // Config's "no retries"
		}
		c.MaxRetries = n
	}
	if v := getenv(EnvMaxEventAge); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Config{}, fmt.Errorf("scheduler: %s=%q: %v", EnvMaxEventAge, v, err)
		}
		c.MaxEventAge = d
	}
	return c, nil
}
