// Package keyring is the embedded backend's token signer (Keyring, a
// provisioner.Signer). It keeps RS256 (RSA-2048) keys, production's token
// profile, as PKCS#8 PEM files in a directory of their own, with a JSON
// manifest saying which key is current and when the others were retired.
//
// The directory is shared between processes: `provisioner serve` signs with
// it while `provisioner keys rotate` rotates it. Writers take an advisory
// lock and replace files atomically (write a temporary file, then rename), so
// readers never lock and never see a half-written file; a running Keyring
// notices a rotation by a cheap stat of the manifest, at most once per check
// interval, and on any unknown key id.
package keyring
