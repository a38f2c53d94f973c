package idestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/examples/ide/idepb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
)

// Root is the directory path under which the IDE keeps everything.
var Root = []string{"ide"}

// Errors of the IDE's operations.
var (
	// ErrNotFound is returned when a session, file, version or model does not exist.
	ErrNotFound = errors.New("idestore: not found")
	// ErrInvalid is returned for an argument no operation can use: an empty id or path, a
	// window name that cannot be a document field, a negative limit.
	ErrInvalid = errors.New("idestore: invalid argument")
	// ErrVersionChanged is returned by a save given SaveOptions.IfVersion when the file's
	// newest version is another one: someone saved it since the editor loaded it.
	ErrVersionChanged = errors.New("idestore: the file was saved by someone else since")
)

// Options configure a Store. The zero value (or nil) gives the defaults.
type Options struct {
	// Clock gives the times stored in sessions, files and messages; time.Now when nil.
	Clock func() time.Time
}

// Store is the IDE's persistence: handles on the directories, record stores, streams and
// document collections under Root. It holds no transaction and is safe for concurrent use;
// every operation takes the kv.Transactor (or kv.ReadTransactor) to run in — the database, for
// an operation in its own retry loop, or a transaction, to compose several operations into one
// commit.
type Store struct {
	db    kv.Database
	clock func() time.Time

	sessionsMD, filesMD, modelsMD                   *record.MetaData
	sessionsDir, filesDir, messagesDir, modelsDir   directory.DirectorySubspace
	docs                                            *docstore.DB
	settings, tabs                                  *docstore.Collection
	fileType, versionType, sessionType, messageType *record.RecordType
}

// Open creates (the first time) or opens the IDE's directories under Root in db:
// ide/sessions, ide/files, ide/messages and ide/models, and the document database ide/settings.
func Open(ctx context.Context, db kv.Database, opts *Options) (*Store, error) {
	s := &Store{db: db, clock: time.Now}
	if opts != nil && opts.Clock != nil {
		s.clock = opts.Clock
	}
	var err error
	if s.sessionsMD, err = sessionsMetaData(); err != nil {
		return nil, err
	}
	if s.filesMD, err = filesMetaData(); err != nil {
		return nil, err
	}
	if s.modelsMD, err = modelsMetaData(); err != nil {
		return nil, err
	}
	s.sessionType = s.sessionsMD.RecordType("Session")
	s.messageType = s.sessionsMD.RecordType("MessageInfo")
	s.fileType = s.filesMD.RecordType("File")
	s.versionType = s.filesMD.RecordType("FileVersion")
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		dirs := []*directory.DirectorySubspace{&s.sessionsDir, &s.filesDir, &s.messagesDir, &s.modelsDir}
		for i, name := range []string{"sessions", "files", "messages", "models"} {
			d, err := directory.CreateOrOpen(ctx, tr, append(append([]string(nil), Root...), name), nil)
			if err != nil {
				return fmt.Errorf("idestore: directory %s: %w", name, err)
			}
			*dirs[i] = d
		}
		// Create the record stores now, so that later transactions only read their headers.
		for _, st := range []struct {
			md  *record.MetaData
			dir directory.DirectorySubspace
		}{{s.sessionsMD, s.sessionsDir}, {s.filesMD, s.filesDir}, {s.modelsMD, s.modelsDir}} {
			if _, err := record.Open(ctx, tr, st.md, st.dir); err != nil {
				return err
			}
		}
		docs, err := docstore.Open(ctx, tr, append(append([]string(nil), Root...), "settings"), &docstore.Options{Clock: s.clock})
		if err != nil {
			return err
		}
		s.docs = docs
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("idestore: open: %w", err)
	}
	s.settings = s.docs.Collection("settings")
	s.tabs = s.docs.Collection("tabs")
	return s, nil
}

// sessionsMetaData declares the sessions store: sessions, listed newest first per workspace and
// counted per workspace, and the bookkeeping of their messages, counted and summed per session.
func sessionsMetaData() (*record.MetaData, error) {
	return record.NewMetaDataBuilder(idepb.File_ide_proto).
		SetUnion("SessionRecords").
		SetPrimaryKey("Session", record.Concat(record.RecordTypeKey(), record.Field("id"))).
		SetPrimaryKey("MessageInfo", record.Concat(record.RecordTypeKey(), record.Field("session_id"), record.Field("id"))).
		AddIndex(record.Index{Name: "sessions_by_activity", RecordTypes: []string{"Session"},
			Expression: record.Concat(record.Field("workspace"), record.Field("active_ms"))}).
		AddIndex(record.Index{Name: "sessions_per_workspace", RecordTypes: []string{"Session"}, Type: record.CountIndex,
			Expression: record.GroupBy(record.Empty(), record.Field("workspace"))}).
		AddIndex(record.Index{Name: "messages_per_session", RecordTypes: []string{"MessageInfo"}, Type: record.CountIndex,
			Expression: record.GroupBy(record.Empty(), record.Field("session_id"))}).
		AddIndex(record.Index{Name: "tokens_per_session", RecordTypes: []string{"MessageInfo"}, Type: record.SumIndex,
			Expression: record.GroupBy(record.Field("tokens"), record.Field("session_id"))}).
		AddIndex(record.Index{Name: "last_message", RecordTypes: []string{"MessageInfo"}, Type: record.MaxEverLongIndex,
			Expression: record.GroupBy(record.Field("created_ms"), record.Field("session_id"))}).
		Build()
}

// filesMetaData declares the files store: file heads, counted and sized per session, with a
// VERSION index for "what changed since", and their versions, listed through an index whose
// entries hold everything the version list shows.
func filesMetaData() (*record.MetaData, error) {
	return record.NewMetaDataBuilder(idepb.File_ide_proto).
		SetUnion("FileRecords").
		SetStoreRecordVersions(true).
		SetPrimaryKey("File", record.Concat(record.RecordTypeKey(), record.Field("session_id"), record.Field("path"))).
		SetPrimaryKey("FileVersion", record.Concat(record.RecordTypeKey(), record.Field("session_id"), record.Field("path"), record.Field("number"))).
		AddIndex(record.Index{Name: "files_per_session", RecordTypes: []string{"File"}, Type: record.CountIndex,
			Expression: record.GroupBy(record.Empty(), record.Field("session_id"))}).
		AddIndex(record.Index{Name: "bytes_per_session", RecordTypes: []string{"File"}, Type: record.SumIndex,
			Expression: record.GroupBy(record.Field("size"), record.Field("session_id"))}).
		AddIndex(record.Index{Name: "file_changes", RecordTypes: []string{"File"}, Type: record.VersionIndex,
			Expression: record.Concat(record.Field("session_id"), record.VersionKey())}).
		AddIndex(record.Index{Name: "file_versions", RecordTypes: []string{"FileVersion"},
			Expression: record.Concat(record.Field("session_id"), record.Field("path"), record.Field("number"),
				record.Field("size"), record.Field("saved_ms"), record.Field("saved_by"))}).
		AddIndex(record.Index{Name: "version_by_save", RecordTypes: []string{"FileVersion"}, Unique: true,
			Expression: record.Concat(record.Field("session_id"), record.Field("path"), record.Field("save_id"))}).
		Build()
}

// modelsMetaData declares the models store: model configurations by id, indexed by provider.
func modelsMetaData() (*record.MetaData, error) {
	return record.NewMetaDataBuilder(idepb.File_ide_proto).
		SetUnion("ModelRecords").
		SetPrimaryKey("ModelConfig", record.Field("id")).
		AddIndex(record.Index{Name: "models_by_provider", RecordTypes: []string{"ModelConfig"}, Expression: record.Field("provider")}).
		Build()
}

// sessionStore opens the sessions store in tr.
func (s *Store) sessionStore(ctx context.Context, tr kv.Transaction) (*record.Store, error) {
	return record.Open(ctx, tr, s.sessionsMD, s.sessionsDir)
}

// fileStore opens the files store in tr.
func (s *Store) fileStore(ctx context.Context, tr kv.Transaction) (*record.Store, error) {
	return record.Open(ctx, tr, s.filesMD, s.filesDir)
}

// readSessions and readFiles open the stores in a read-only transaction.
func (s *Store) readSessions(ctx context.Context, tr kv.ReadTransaction) (*record.Store, error) {
	return record.OpenReadOnly(ctx, tr, s.sessionsMD, s.sessionsDir)
}

func (s *Store) readFiles(ctx context.Context, tr kv.ReadTransaction) (*record.Store, error) {
	return record.OpenReadOnly(ctx, tr, s.filesMD, s.filesDir)
}

// DB returns the database the store was opened on.
func (s *Store) DB() kv.Database { return s.db }

// nowMS is the clock in unix milliseconds.
func (s *Store) nowMS() int64 { return s.clock().UnixMilli() }

// Check verifies everything the IDE stores: the directory tree, the three record stores
// (records against their indexes and counts), every session's conversation stream and the
// document collections. It reads the whole database in a few transactions, so it is meant for
// tests, the scenario's crash check and repair tools.
func (s *Store) Check(ctx context.Context) error {
	var errs []error
	if err := directory.Check(ctx, s.db); err != nil {
		errs = append(errs, fmt.Errorf("directory: %w", err))
	}
	for _, st := range []struct {
		name string
		md   *record.MetaData
		dir  directory.DirectorySubspace
	}{{"sessions", s.sessionsMD, s.sessionsDir}, {"files", s.filesMD, s.filesDir}, {"models", s.modelsMD, s.modelsDir}} {
		if err := record.Check(st.md, st.dir)(ctx, s.db); err != nil {
			errs = append(errs, fmt.Errorf("%s store: %w", st.name, err))
		}
	}
	if err := s.checkStreams(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := docstore.Check(append(append([]string(nil), Root...), "settings"), nil)(ctx, s.db); err != nil {
		errs = append(errs, fmt.Errorf("settings: %w", err))
	}
	return errors.Join(errs...)
}
