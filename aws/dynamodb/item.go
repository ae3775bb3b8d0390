package dynamodb

import (
	"fmt"
	"strconv"
	"time"

	"provisioner"
	"provisioner/storetime"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names shared by every kind of item.
const (
	attrPK       = "pk"
	attrSK       = "sk"
	attrGSI1PK   = "gsi1pk"
	attrGSI1SK   = "gsi1sk"
	attrTTL      = "ttl"
	attrRevision = "revision"
	attrWriteTok = "wtok"
	attrDeleted  = "deleted"
)

// item is one DynamoDB item. Empty strings, zero times and zero TTLs are
// left out, and read back as their zero values.
type item map[string]types.AttributeValue

func strAV(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func numAV(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func boolAV(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

// key returns the primary key of an item.
func key(pk, sk string) item { return item{attrPK: strAV(pk), attrSK: strAV(sk)} }

func (it item) setStr(name, v string) {
	if v != "" {
		it[name] = strAV(v)
	}
}

func (it item) setNum(name string, v int64) { it[name] = numAV(v) }

func (it item) setBool(name string, v bool) { it[name] = boolAV(v) }

// setTime stores t in storetime's form; a zero time is left out.
func (it item) setTime(name string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	v, err := storetime.Format(t)
	if err != nil {
		return err
	}
	it[name] = strAV(v)
	return nil
}

// timeAttr is a time and the attribute it goes to.
type timeAttr struct {
	name string
	v    time.Time
}

// setTimes stores each time by setTime.
func (it item) setTimes(ts []timeAttr) error {
	for _, t := range ts {
		if err := it.setTime(t.name, t.v); err != nil {
			return err
		}
	}
	return nil
}

// setTTL stores the expiry in epoch seconds; 0 (keep forever) is left out.
func (it item) setTTL(epoch int64) {
	if epoch > 0 {
		it[attrTTL] = numAV(epoch)
	}
}

// str reads a string attribute; an absent one is "".
func (it item) str(name string) (string, error) {
	switch v := it[name].(type) {
	case nil:
		return "", nil
	case *types.AttributeValueMemberS:
		return v.Value, nil
	default:
		return "", malformed(name)
	}
}

// num reads a number attribute; an absent one is 0.
func (it item) num(name string) (int64, error) {
	switch v := it[name].(type) {
	case nil:
		return 0, nil
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return 0, malformed(name)
		}
		return n, nil
	default:
		return 0, malformed(name)
	}
}

// boolean reads a boolean attribute; an absent one is false.
func (it item) boolean(name string) (bool, error) {
	switch v := it[name].(type) {
	case nil:
		return false, nil
	case *types.AttributeValueMemberBOOL:
		return v.Value, nil
	default:
		return false, malformed(name)
	}
}

// time reads a time stored by setTime; an absent one is the zero time.
func (it item) time(name string) (time.Time, error) {
	s, err := it.str(name)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := storetime.Parse(s)
	if err != nil {
		return time.Time{}, malformed(name)
	}
	return t, nil
}

// decoder reads several attributes and keeps the first error, so decoding
// functions read as a list of fields.
type decoder struct {
	it  item
	err error
}

func (d *decoder) str(name string) string {
	v, err := d.it.str(name)
	d.keep(err)
	return v
}

func (d *decoder) num(name string) int64 {
	v, err := d.it.num(name)
	d.keep(err)
	return v
}

func (d *decoder) boolean(name string) bool {
	v, err := d.it.boolean(name)
	d.keep(err)
	return v
}

func (d *decoder) time(name string) time.Time {
	v, err := d.it.time(name)
	d.keep(err)
	return v
}

func (d *decoder) keep(err error) {
	if d.err == nil {
		d.err = err
	}
}

func malformed(name string) error {
	return provisioner.Wrap(provisioner.EINTERNAL, fmt.Errorf("attribute %q has an unexpected type or value", name),
		"stored record is malformed")
}

// timeKey is a sort key that orders records by time, then by ID.
func timeKey(t time.Time, id string) (string, error) {
	ts, err := storetime.Format(t)
	if err != nil {
		return "", err
	}
	return ts + "#" + id, nil
}
