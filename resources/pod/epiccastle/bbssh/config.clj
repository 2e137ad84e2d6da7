(ns pod.epiccastle.bbssh.config
  "Configs: what an OpenSSH client config says about one host, from
  `config-repository/get-config`, or implemented in the script with `new`
  for a `config-repository/new`. Keywords are OpenSSH's (\"HostName\",
  \"IdentityFile\"...), matched without regard to case.

    (def cfg (config-repository/get-config repo \"db\"))
    [(config/get-hostname cfg) (config/get-port cfg)] ;; => [\"db.internal\" 2222]"
  (:require [pod.epiccastle.bbssh.impl.callbacks :as cb]
            [pod.epiccastle.bbssh.pod.config :as pod-config]))

(def ^:private known
  #{:get-hostname :get-user :get-port :get-value :get-values})

(defn new
  "Makes a config from a map of functions, all optional:
  - `:get-hostname (fn [])`, `:get-user (fn [])` strings or nil
  - `:get-port (fn [])` an integer, or nil / -1 when unset
  - `:get-value (fn [keyword])` the value of an OpenSSH keyword such as
    \"StrictHostKeyChecking\", or nil
  - `:get-values (fn [keyword])` every value of a keyword given more than
    once (\"IdentityFile\", \"LocalForward\"...), a sequence or nil

  When a session connects, the pod asks for HostName, User and Port
  through their own functions and for every other keyword it applies (see
  docs/configuration.md) through `:get-value` / `:get-values`.

    (config/new {:get-hostname (constantly \"127.0.0.1\")
                 :get-port (constantly 2222)
                 :get-value {\"StrictHostKeyChecking\" \"yes\"}})"
  [callbacks]
  (cb/new-object 'pod.epiccastle.bbssh.pod.config/new "config" known callbacks
                 {:post {:get-values #(some->> % (mapv str))
                         :get-hostname #(some-> % str)
                         :get-user #(some-> % str)
                         :get-value #(some-> % str)}}))

(defn get-hostname
  "The HostName value, nil when unset.

    (config/get-hostname cfg) ;; => \"db.internal\""
  [config]
  (pod-config/get-hostname config))

(defn get-user
  "The User value, nil when unset.

    (config/get-user cfg) ;; => \"deploy\""
  [config]
  (pod-config/get-user config))

(defn get-port
  "The Port value, -1 when unset.

    (config/get-port cfg) ;; => 2222"
  [config]
  (pod-config/get-port config))

(defn get-value
  "The first value of an OpenSSH keyword, nil when unset.

    (config/get-value cfg \"StrictHostKeyChecking\") ;; => \"no\""
  [config key]
  (pod-config/get-value config (name key)))

(defn get-values
  "Every value of an OpenSSH keyword, as a vector of strings (nil when
  unset).

    (config/get-values cfg \"IdentityFile\") ;; => [\"~/.ssh/a\" \"~/.ssh/b\"]"
  [config key]
  (pod-config/get-values config (name key)))
