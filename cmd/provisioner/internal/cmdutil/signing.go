package cmdutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"provisioner"
	"provisioner/client"
)

// defaultSigningKey is the file the SlideRule Python client signs with
// (Session.PRIVATE_KEY in the user's home), so one key serves both clients.
const defaultSigningKey = ".sliderule_key"

// signer returns the key that signs state-changing calls: --signing-key
// (PROVISIONER_SIGNING_KEY), which must be readable, else ~/.sliderule_key
// when it exists. A default key that cannot be used is reported and
// skipped, as the Python client does ("Request not signed"): the server
// then says whether it wanted a signature.
func (f *Factory) signer() (*client.Signer, string, error) {
	if f.SigningKey != "" {
		s, err := client.LoadSigner(f.SigningKey)
		if err != nil {
			return nil, "", FlagErrorf("--signing-key: %v", err)
		}
		return s, f.SigningKey, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, "", nil
	}
	path := filepath.Join(home, defaultSigningKey)
	s, err := client.LoadSigner(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		fmt.Fprintf(f.IOStreams.ErrOut, "warning: requests are not signed: %v\n", err)
		return nil, "", nil
	}
	return s, path, nil
}

// SignatureHint follows an error about a missing or refused signature with
// what to do about it.
func (f *Factory) SignatureHint(err error) {
	w := f.IOStreams.ErrOut
	switch provisioner.ErrorCode(err) {
	case provisioner.ESIGREQUIRED:
		if f.signedWith != "" {
			fmt.Fprintf(w, "hint: this call was not signed although %s was loaded; this CLI may be older than the provisioner\n", f.signedWith)
			return
		}
		fmt.Fprint(w, `hint: this provisioner requires signed requests, and no signing key is configured.
  Make one (once, no passphrase):   ssh-keygen -t ed25519 -N '' -f ~/.sliderule_key
  Have the provisioner's operator register ~/.sliderule_key.pub for your GitHub login.
  The CLI (and the SlideRule Python client) then sign with ~/.sliderule_key;
  to use another file: --signing-key FILE or PROVISIONER_SIGNING_KEY=FILE.
`)
	case provisioner.EBADSIGNATURE:
		if f.signedWith == "" {
			return
		}
		s, lerr := client.LoadSigner(f.signedWith)
		if lerr != nil {
			return
		}
		fmt.Fprintf(w, "hint: signed with %s (%s); is that the key registered for your login, and is this machine's clock right?\n",
			f.signedWith, ssh.FingerprintSHA256(s.PublicKey()))
	}
}
