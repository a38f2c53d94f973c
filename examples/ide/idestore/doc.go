// Package idestore keeps the state of an AI-assisted IDE in one transactional database instead
// of scattered JSON files: sessions, the files each session edits with their version history,
// the conversation with the model, settings, editor tabs and model configurations. A crash
// never leaves a session half-saved, and several windows on one session never overwrite each
// other's work: every operation is one transaction, and operations compose into one
// transaction when given a kv.Transaction instead of the database.
//
// # Basics
//
// Open creates or opens the IDE's directories in a kv.Database (the embedded engine on disk,
// or FoundationDB):
//
//	ide, err := idestore.Open(ctx, db, nil)
//	sess, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/src/shop", Title: "Fix checkout"})
//	_, err = ide.AppendMessage(ctx, db, sess.Id, idestore.Message{Role: "user", Text: "Why does checkout fail?"})
//	head, err := ide.SaveFile(ctx, db, sess.Id, "cart.go", content, idestore.SaveOptions{Window: "w1"})
//	view, err := ide.LoadSession(ctx, db, sess.Id, idestore.LoadOptions{}) // session, counts, files, tabs, newest 50 messages
//
// What each part uses:
//
//   - Sessions are records, listed newest first through a VALUE index on (workspace,
//     active_ms) and counted per workspace by a COUNT index (ListSessions).
//   - A file is a head record (path, size, newest version) and one record per saved version
//     holding the content, which the record store splits above 100,000 bytes. COUNT and SUM
//     indexes give each session's file count and size in one read; a VERSION index on the
//     heads answers "which files changed since version V" (FilesChangedSince); the
//     file_versions index holds every field of a version but its content, so the history is
//     listed from index entries alone (FileVersions).
//   - The conversation of a session is a queue.Stream: appends never conflict, the newest 50
//     are one reverse read, and a window resumes from the entry it last showed
//     (Messages). Each message also has a small record whose COUNT, SUM and MAX_EVER indexes
//     keep the session's message count, token total and last activity, and which holds bodies
//     too large for a stream entry.
//   - Settings (global, and per workspace over them) and editor tabs are docstore documents,
//     stored field by field: two windows changing different fields never conflict.
//   - Model configurations are records.
//
// # Key layout
//
// Everything lives under the directory Root, ("ide"):
//
//	directory          what                        keys (see each layer's documentation)
//	ide/sessions       record store: Session,      record store layout; primary keys
//	                   MessageInfo                 (1, id) and (2, session_id, message id)
//	ide/files          record store: File,         (1, session_id, path) and
//	                   FileVersion (record         (2, session_id, path, number)
//	                   versions on)
//	ide/messages       per session: its key and    P+(session_id) = "": the session exists
//	                   its conversation stream     (written only by CreateSession and
//	                                               DeleteSession, read by every save and
//	                                               append); P+(session_id, 1)+stream layout
//	ide/models         record store: ModelConfig   (id)
//	ide/settings       docstore database           collections "settings" (_id "global",
//	                                               "workspace:"+path) and "tabs" (_id session)
//
// Indexes: sessions_by_activity (VALUE workspace, active_ms), sessions_per_workspace (COUNT by
// workspace), messages_per_session (COUNT), tokens_per_session (SUM), last_message (MAX_EVER
// created_ms); files_per_session (COUNT), bytes_per_session (SUM of size), file_changes
// (VERSION session_id, version), file_versions (VALUE session_id, path, number, size,
// saved_ms, saved_by); models_by_provider (VALUE).
//
// Store.Check verifies all of it: the directory tree, the three record stores, every
// conversation against its message records, and the document collections.
//
// # Caveats
//
//   - Retries: given the database, every operation is safe under commit_unknown_result (ids are
//     drawn before the retry loop; a save of content the file already has writes nothing; an
//     append whose message record exists appends nothing). Given a transaction of your own,
//     set the ids yourself (NewSession.ID, Message.ID) before your retry loop.
//   - Saves and appends check that the session exists by reading its session key, not its
//     record, so they do not conflict with a window switching to or renaming the session; they
//     conflict only with its deletion.
//   - A file's content is at most MaxFileSize; a message of any size is accepted (text above
//     one stream value goes to its record).
//   - A session's active time changes when a window switches to it (SwitchTo), not on every
//     message: updating it there would make appends conflict on the session record.
//     LastMessageMS in SessionStats gives the last activity.
package idestore
