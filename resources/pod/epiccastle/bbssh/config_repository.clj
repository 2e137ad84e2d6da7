(ns pod.epiccastle.bbssh.config-repository
  "Config repositories: OpenSSH client configs a bbssh agent hands to the
  sessions it makes (`agent/set-config-repository`), parsed from a file or
  text, or implemented in the script with `new`.

    (agent/set-config-repository agent (config-repository/openssh-config-file \"~/.ssh/config\"))
    (config/get-port (config-repository/get-config repo \"db\")) ;; => 2222"
  (:require [pod.epiccastle.bbssh.impl.callbacks :as cb]
            [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.pod.config-repository :as pod-repo]))

(defn openssh-config-file
  "Parses an OpenSSH client config file (a path, `~` expanded, or a
  java.io.File).

    (config-repository/openssh-config-file \"~/.ssh/config\")"
  [path]
  (cleaner/register (pod-repo/openssh-config-file (str path))))

(defn openssh-config-string
  "Parses OpenSSH client config text.

    (config-repository/openssh-config-string \"Host db\\n  HostName db.internal\\n  Port 2222\\n\")"
  [text]
  (cleaner/register (pod-repo/openssh-config-string text)))

(defn new
  "Makes a config repository whose `:get-config (fn [host])` returns the
  config for `host` (a `pod.epiccastle.bbssh.config` handle).

    (config-repository/new {:get-config (fn [host] (config/new {:get-user (constantly \"deploy\")}))})"
  [callbacks]
  (cb/new-object 'pod.epiccastle.bbssh.pod.config-repository/new "config-repository" #{:get-config} callbacks {}))

(defn get-config
  "The config the repository gives `host`, as a handle (see
  `pod.epiccastle.bbssh.config`).

    (config-repository/get-config repo \"db\") ;; => :bbssh/config-5"
  [repository host]
  (cleaner/register (pod-repo/get-config repository host)))
