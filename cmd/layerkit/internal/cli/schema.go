package cli

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/layerkit/layerkit/record"
)

// schema is the record types of a store, read from a descriptor set: the union message, whose
// fields name the record types, and the file that declares it.
type schema struct {
	file  protoreflect.FileDescriptor
	union protoreflect.MessageDescriptor
}

// descriptorHint says how to make the file the record commands need.
const descriptorHint = "protoc --descriptor_set_out=FILE.pb --include_imports your.proto"

// loadSchema reads a FileDescriptorSet (as protoc --descriptor_set_out --include_imports
// writes) and finds its union message: the one named by unionName (full or short name), else
// the one message marked (com.apple.foundationdb.record.record).usage = UNION, else the one
// named RecordTypeUnion.
func loadSchema(path, unionName string) (*schema, error) {
	if path == "" {
		return nil, fmt.Errorf("this command needs the store's descriptor set: --descriptor FILE.pb (%s)", descriptorHint)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the descriptor set: %w", err)
	}
	var set descriptorpb.FileDescriptorSet
	// An empty resolver keeps every option extension as unknown bytes, whatever Go types this
	// program links, so the Record Layer's options are always read the same way.
	if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("%s is not a FileDescriptorSet (%s): %v", path, descriptorHint, err)
	}
	if len(set.File) == 0 {
		return nil, fmt.Errorf("%s holds no .proto file (%s)", path, descriptorHint)
	}
	addWellKnownImports(&set)
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("descriptor set %s: %v (write it with --include_imports)", path, err)
	}
	union, err := findUnion(files, unionName)
	if err != nil {
		return nil, fmt.Errorf("descriptor set %s: %w", path, err)
	}
	return &schema{file: union.ParentFile(), union: union}, nil
}

// addWellKnownImports adds the files of protobuf's well-known types that the set imports but
// does not hold (a set written without --include_imports), from the copies linked into this
// program.
func addWellKnownImports(set *descriptorpb.FileDescriptorSet) {
	have := map[string]bool{}
	for _, f := range set.File {
		have[f.GetName()] = true
	}
	for _, f := range set.File {
		for _, dep := range f.GetDependency() {
			if have[dep] {
				continue
			}
			if fd, err := protoregistry.GlobalFiles.FindFileByPath(dep); err == nil {
				set.File = append([]*descriptorpb.FileDescriptorProto{protodesc.ToFileDescriptorProto(fd)}, set.File...)
				have[dep] = true
			}
		}
	}
}

func findUnion(files *protoregistry.Files, name string) (protoreflect.MessageDescriptor, error) {
	var all []protoreflect.MessageDescriptor
	files.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		msgs := f.Messages()
		for i := 0; i < msgs.Len(); i++ {
			all = append(all, msgs.Get(i))
		}
		return true
	})
	pick := func(what string, keep func(protoreflect.MessageDescriptor) bool) ([]protoreflect.MessageDescriptor, error) {
		var out []protoreflect.MessageDescriptor
		for _, m := range all {
			if keep(m) {
				out = append(out, m)
			}
		}
		if len(out) > 1 {
			names := make([]string, len(out))
			for i, m := range out {
				names[i] = string(m.FullName())
			}
			sort.Strings(names)
			return nil, fmt.Errorf("%d messages are %s (%s); name one with --union", len(out), what, strings.Join(names, ", "))
		}
		return out, nil
	}
	if name != "" {
		found, err := pick("named "+name, func(m protoreflect.MessageDescriptor) bool {
			return string(m.FullName()) == name || string(m.Name()) == name
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("no message named %s", name)
		}
		return found[0], nil
	}
	found, err := pick("marked usage = UNION", isMarkedUnion)
	if err != nil || len(found) == 1 {
		if err != nil {
			return nil, err
		}
		return found[0], nil
	}
	found, err = pick("named "+record.DefaultUnionName, func(m protoreflect.MessageDescriptor) bool {
		return m.Name() == record.DefaultUnionName
	})
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, errors.New("no union message: none is marked (com.apple.foundationdb.record.record).usage = UNION and none is named " + record.DefaultUnionName + "; name it with --union")
	}
	return found[0], nil
}

// recordType returns the union field of the record type called name (the message's short or
// full name).
func (s *schema) recordType(name string) (protoreflect.FieldDescriptor, error) {
	fields := s.union.Fields()
	var names []string
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Message() == nil {
			continue
		}
		if string(fd.Message().Name()) == name || string(fd.Message().FullName()) == name {
			return fd, nil
		}
		names = append(names, string(fd.Message().Name()))
	}
	return nil, fmt.Errorf("%s is not a record type of %s (its types: %s)", name, s.union.FullName(), strings.Join(names, ", "))
}
