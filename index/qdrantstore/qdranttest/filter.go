package qdranttest

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/qdrant/go-client/qdrant"
)

// matchFilter reports whether p satisfies f (a nil filter matches all):
// every must condition, at least one should condition (when there are
// any), at least min_should.min_count of its conditions, no must_not one.
func matchFilter(f *qdrant.Filter, p *point) (bool, error) {
	if f == nil {
		return true, nil
	}
	for _, c := range f.GetMust() {
		ok, err := matchCondition(c, p)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, c := range f.GetMustNot() {
		ok, err := matchCondition(c, p)
		if err != nil || ok {
			return false, err
		}
	}
	if should := f.GetShould(); len(should) > 0 {
		n, err := countMatches(should, p)
		if err != nil || n == 0 {
			return false, err
		}
	}
	if ms := f.GetMinShould(); ms != nil {
		n, err := countMatches(ms.GetConditions(), p)
		if err != nil || uint64(n) < ms.GetMinCount() {
			return false, err
		}
	}
	return true, nil
}

func countMatches(cs []*qdrant.Condition, p *point) (int, error) {
	n := 0
	for _, c := range cs {
		ok, err := matchCondition(c, p)
		if err != nil {
			return 0, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

func matchCondition(c *qdrant.Condition, p *point) (bool, error) {
	switch c := c.GetConditionOneOf().(type) {
	case *qdrant.Condition_Field:
		return matchField(c.Field, p)
	case *qdrant.Condition_Filter:
		return matchFilter(c.Filter, p)
	case *qdrant.Condition_HasId:
		for _, id := range c.HasId.GetHasId() {
			key, _, err := idKey(id)
			if err != nil {
				return false, err
			}
			if key == p.key {
				return true, nil
			}
		}
		return false, nil
	case *qdrant.Condition_IsEmpty:
		return isEmpty(lookup(p.payload, c.IsEmpty.GetKey())), nil
	case *qdrant.Condition_IsNull:
		return isNull(lookup(p.payload, c.IsNull.GetKey())), nil
	case *qdrant.Condition_HasVector:
		name := c.HasVector.GetHasVector()
		_, dense := p.dense[name]
		_, sparse := p.sparse[name]
		return dense || sparse, nil
	case nil:
		return false, invalid("condition is empty")
	default:
		return false, unimplemented(fmt.Sprintf("filter condition %T", c))
	}
}

func matchField(fc *qdrant.FieldCondition, p *point) (bool, error) {
	vals := lookup(p.payload, fc.GetKey())
	switch {
	case fc.GetMatch() != nil:
		return matchValue(fc.GetMatch(), vals)
	case fc.GetRange() != nil:
		r := fc.GetRange()
		for _, v := range vals {
			x, ok := number(v)
			if ok && (r.Lt == nil || x < *r.Lt) && (r.Lte == nil || x <= *r.Lte) &&
				(r.Gt == nil || x > *r.Gt) && (r.Gte == nil || x >= *r.Gte) {
				return true, nil
			}
		}
		return false, nil
	case fc.IsEmpty != nil:
		return isEmpty(vals) == fc.GetIsEmpty(), nil
	case fc.IsNull != nil:
		return isNull(vals) == fc.GetIsNull(), nil
	}
	return false, unimplemented(fmt.Sprintf("field condition on %q other than match, range, is_empty or is_null", fc.GetKey()))
}

// matchValue matches a stored field (its values, arrays flattened) the way
// Qdrant does: any value equal to the keyword, in the keywords, and so on.
// An except-match needs a value outside the set, so a missing field fails.
func matchValue(m *qdrant.Match, vals []*qdrant.Value) (bool, error) {
	anyOf := func(pred func(*qdrant.Value) bool) bool { return slices.ContainsFunc(vals, pred) }
	str := func(v *qdrant.Value) (string, bool) {
		s, ok := v.GetKind().(*qdrant.Value_StringValue)
		if !ok {
			return "", false
		}
		return s.StringValue, true
	}
	integer := func(v *qdrant.Value) (int64, bool) {
		x, ok := number(v)
		if !ok || x != math.Trunc(x) {
			return 0, false
		}
		return int64(x), true
	}
	switch m := m.GetMatchValue().(type) {
	case *qdrant.Match_Keyword:
		return anyOf(func(v *qdrant.Value) bool { s, ok := str(v); return ok && s == m.Keyword }), nil
	case *qdrant.Match_Keywords:
		return anyOf(func(v *qdrant.Value) bool {
			s, ok := str(v)
			return ok && slices.Contains(m.Keywords.GetStrings(), s)
		}), nil
	case *qdrant.Match_ExceptKeywords:
		return anyOf(func(v *qdrant.Value) bool {
			s, ok := str(v)
			return !ok || !slices.Contains(m.ExceptKeywords.GetStrings(), s)
		}), nil
	case *qdrant.Match_Integer:
		return anyOf(func(v *qdrant.Value) bool { x, ok := integer(v); return ok && x == m.Integer }), nil
	case *qdrant.Match_Integers:
		return anyOf(func(v *qdrant.Value) bool {
			x, ok := integer(v)
			return ok && slices.Contains(m.Integers.GetIntegers(), x)
		}), nil
	case *qdrant.Match_ExceptIntegers:
		return anyOf(func(v *qdrant.Value) bool {
			x, ok := integer(v)
			return !ok || !slices.Contains(m.ExceptIntegers.GetIntegers(), x)
		}), nil
	case *qdrant.Match_Boolean:
		return anyOf(func(v *qdrant.Value) bool {
			b, ok := v.GetKind().(*qdrant.Value_BoolValue)
			return ok && b.BoolValue == m.Boolean
		}), nil
	case nil:
		return false, invalid("match is empty")
	default:
		return false, unimplemented(fmt.Sprintf("match %T (needs a full-text index)", m))
	}
}

// lookup returns the values at a dotted payload path, arrays flattened.
func lookup(payload map[string]*qdrant.Value, path string) []*qdrant.Value {
	head, rest, nested := strings.Cut(path, ".")
	v, ok := payload[strings.TrimSuffix(head, "[]")]
	if !ok {
		return nil
	}
	var vals []*qdrant.Value
	if l, ok := v.GetKind().(*qdrant.Value_ListValue); ok {
		vals = l.ListValue.GetValues()
	} else {
		vals = []*qdrant.Value{v}
	}
	if !nested {
		return vals
	}
	var out []*qdrant.Value
	for _, v := range vals {
		if s, ok := v.GetKind().(*qdrant.Value_StructValue); ok {
			out = append(out, lookup(s.StructValue.GetFields(), rest)...)
		}
	}
	return out
}

func isEmpty(vals []*qdrant.Value) bool {
	for _, v := range vals {
		if _, null := v.GetKind().(*qdrant.Value_NullValue); !null {
			return false
		}
	}
	return true
}

func isNull(vals []*qdrant.Value) bool {
	return len(vals) > 0 && slices.ContainsFunc(vals, func(v *qdrant.Value) bool {
		_, null := v.GetKind().(*qdrant.Value_NullValue)
		return null
	})
}

func number(v *qdrant.Value) (float64, bool) {
	switch k := v.GetKind().(type) {
	case *qdrant.Value_IntegerValue:
		return float64(k.IntegerValue), true
	case *qdrant.Value_DoubleValue:
		return k.DoubleValue, true
	}
	return 0, false
}
