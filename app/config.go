package app

import (
	"time"

	"provisioner"
)

// Limits bound what org members may deploy; admins are bound only by the
// absolute limits, which keep a typo from deploying a thousand nodes for a year.
type Limits struct {
	MaxNodes    int           // per cluster, org members (default 10)
	MaxTTL      time.Duration // org members (default 24h)
	MaxClusters int           // live clusters per org member (default 3)
	DefaultTTL  time.Duration // when a DEPLOY names none (default 60m, as the SlideRule client)
	AbsMaxNodes int           // everyone (default 500)
	AbsMaxTTL   time.Duration // everyone (default 7 days)
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxNodes, 10)
	def(&l.MaxClusters, 3)
	def(&l.AbsMaxNodes, 500)
	defd(&l.MaxTTL, 24*time.Hour)
	defd(&l.DefaultTTL, time.Hour)
	defd(&l.AbsMaxTTL, 7*24*time.Hour)
	return l
}

// GuardWindow is the seed's 5 minutes: a cluster whose destroy is this close
// counts as scheduled for delete, and its schedule can no longer be moved.
const GuardWindow = 5 * time.Minute

// MinTTL is the shortest TTL a DEPLOY or EXTEND may ask for.
const MinTTL = time.Minute

// lifecycle holds what the cluster functions need beyond LOGIN and ACCESS.
type lifecycle struct {
	driver         provisioner.ClusterDriver
	scheduler      provisioner.Scheduler
	limits         Limits
	publicCluster  string // what "sliderule" names on the node group paths
	deployTimeout  time.Duration
	destroyTimeout time.Duration
	poll           time.Duration
}
