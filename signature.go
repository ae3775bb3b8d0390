package provisioner

// SignaturePolicy says whose state-changing calls (DEPLOY, EXTEND, DESTROY,
// SCHEDULE_DESTROY, TEST, RELEASE, and their per-user variants) must carry
// production's request signature: the x-sliderule-timestamp and
// x-sliderule-signature headers, an ssh-ed25519 signature over
// base64url(host+path):timestamp:base64url(body).
type SignaturePolicy string

// The policies a deployment chooses from.
const (
	// SignaturesOff requires no signature (the default: tokens alone, so
	// PAT-and-curl workflows keep working).
	SignaturesOff SignaturePolicy = "off"
	// SignaturesOwners requires admins (production's owners) to sign, as
	// production's verify_signature does.
	SignaturesOwners SignaturePolicy = "owners"
	// SignaturesEveryone requires every authenticated caller to sign.
	SignaturesEveryone SignaturePolicy = "everyone"
)

// ParseSignaturePolicy parses off, owners or everyone; "" is off.
func ParseSignaturePolicy(s string) (SignaturePolicy, error) {
	switch p := SignaturePolicy(s); p {
	case "":
		return SignaturesOff, nil
	case SignaturesOff, SignaturesOwners, SignaturesEveryone:
		return p, nil
	}
	return "", Errorf(EINVALID, "unknown signature policy %q (want off, owners or everyone)", s)
}

// Requires tells whether u's state-changing calls must be signed. The
// anonymous caller never signs: it has no login to find a key under (and
// may not make those calls anyway).
func (p SignaturePolicy) Requires(u User) bool {
	if u.Login == "" || u.Level <= LevelAnonymous {
		return false
	}
	switch p {
	case SignaturesOwners:
		return u.Level >= LevelAdmin
	case SignaturesEveryone:
		return true
	}
	return false
}
