(ns pod.epiccastle.bbssh.session
  "Operations on a session: connect, disconnect, state.

  A session is the handle returned by `pod.epiccastle.bbssh.core/ssh`, a
  keyword such as `:bbssh/session-1`."
  (:require [pod.epiccastle.bbssh.pod.session :as pod-session]
            [pod.epiccastle.bbssh.pod.forward :as pod-forward]))

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

(defn- with-stats [{:keys [forward stats]}]
  (with-meta forward stats))

(defn set-port-forwarding-local
  "Listens on the local machine and forwards every connection through the
  session to a host and port (or unix socket) reached from the server, like
  `ssh -L`. Returns the local port bound.

  Keys: `:bind-address` [\"127.0.0.1\"; \"*\" or \"0.0.0.0\" for all
  interfaces], `:local-port` (0 picks a free port) or `:local-unix-socket`,
  `:remote-host` + `:remote-port` or `:remote-unix-socket`,
  `:connect-timeout` ms to open the remote end [no limit].

    (set-port-forwarding-local s {:local-port 8080 :remote-host \"db\" :remote-port 5432})"
  [session opts]
  (pod-forward/forward-local session opts))

(defn delete-port-forwarding-local
  "Stops the local forward listening on `:local-port` (and `:bind-address`,
  if given) or `:local-unix-socket`. Open connections finish unless
  `:close-active true`."
  [session opts]
  (pod-forward/unforward-local session opts)
  nil)

(defn get-port-forwarding-local
  "The session's local forwards, e.g.
  `[{:local-port 8080, :remote-host \"db\", :remote-port 5432}]`. Each map's
  metadata holds its figures: `:active-connections :total-connections
  :bytes-in :bytes-out :last-error`."
  [session]
  (mapv with-stats (pod-forward/forwards-local session)))

(defn set-port-forwarding-remote
  "Asks the server to listen and forwards every connection it gets to a
  host and port (or unix socket) reached from this machine, like `ssh -R`.
  Returns the remote port bound (useful with `:remote-port 0`).

  Keys: `:bind-address` [\"127.0.0.1\"; subject to the server's
  GatewayPorts], `:remote-port` or `:remote-unix-socket`, `:local-host`
  [\"127.0.0.1\"] + `:local-port` or `:local-unix-socket`,
  `:connect-timeout` ms for the local dial.

    (set-port-forwarding-remote s {:remote-port 8080 :local-port 3000})"
  [session opts]
  (pod-forward/forward-remote session opts))

(defn delete-port-forwarding-remote
  "Stops the remote forward listening on `:remote-port` (and
  `:bind-address`, if given) or `:remote-unix-socket`."
  [session opts]
  (pod-forward/unforward-remote session opts)
  nil)

(defn get-port-forwarding-remote
  "The session's remote forwards, e.g.
  `[{:remote-port 8080, :local-host \"127.0.0.1\", :local-port 3000}]`, with
  figures as metadata as for `get-port-forwarding-local`."
  [session]
  (mapv with-stats (pod-forward/forwards-remote session)))
