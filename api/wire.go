package api

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Flag is a boolean written as production writes its tags, "true" or
// "false"; it reads a JSON boolean too.
type Flag bool

// MarshalJSON writes "true" or "false", a string.
func (f Flag) MarshalJSON() ([]byte, error) {
	return json.Marshal(strconv.FormatBool(bool(f)))
}

// UnmarshalJSON reads true, false, "true" or "false".
func (f *Flag) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `true`, `"true"`:
		*f = true
	case `false`, `"false"`, `null`:
		*f = false
	default:
		return fmt.Errorf("not a boolean: %s", b)
	}
	return nil
}

// Count is a number written as a decimal string, as production's tags
// are; it reads a JSON number too.
type Count int

// MarshalJSON writes the decimal string.
func (n Count) MarshalJSON() ([]byte, error) {
	return json.Marshal(strconv.Itoa(int(n)))
}

// UnmarshalJSON reads 3 or "3".
func (n *Count) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = 0
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		s = string(b)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*n = Count(v)
	return nil
}
