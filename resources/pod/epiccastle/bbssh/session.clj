(ns pod.epiccastle.bbssh.session
  "Operations on a session: connect, disconnect, state.

  A session is the handle returned by `pod.epiccastle.bbssh.core/ssh`, a
  keyword such as `:bbssh/session-1`."
  (:require [pod.epiccastle.bbssh.pod.session :as pod-session]))

(defn connect
  "Connects `session` (made with `:no-connect true`). `timeout` is in
  milliseconds; nil or 0 means no limit. Throws ex-info with a `:type` such
  as `:bbssh/auth-failed`, `:bbssh/host-key-unknown`, `:bbssh/connect-failed`.

    (session/connect s 10000)"
  ([session] (connect session nil))
  ([session timeout]
   (pod-session/connect session timeout)
   nil))

(defn disconnect
  "Closes the session's connection, with every command and forward on it.
  The session can be connected again with `connect`."
  [session]
  (pod-session/disconnect session)
  nil)

(defn connected?
  "True while the session has a live connection."
  [session]
  (pod-session/connected? session))
