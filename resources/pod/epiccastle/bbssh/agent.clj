(ns pod.epiccastle.bbssh.agent
  "Agents: bbssh 0.6's JSch instance, not an ssh-agent. An agent holds
  identities, a host key repository (~/.ssh/known_hosts unless set) and a
  config repository (~/.ssh/config unless set), and makes unconnected
  sessions that use them. `set-config` and `set-debug-fn` set defaults for
  every session made afterwards.

    (def agent (agent/new))
    (agent/add-identity agent \"/home/me/.ssh/id_ed25519\")
    (def s (agent/get-session agent \"me\" \"example.com\" 22))
    (session/connect s)"
  (:require [babashka.pods :as pods]
            [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.pod.agent :as pod-agent]
            [pod.epiccastle.bbssh.pod.registry :as registry]))

(defn new
  "Makes an agent, with no identities.

    (agent/new) ;; => :bbssh/agent-1"
  []
  (cleaner/register (pod-agent/new)))

(defn get-session
  "An unconnected session to `host` using the agent's identities, host
  keys and config. `username` [the config's User, else the local user] and
  `port` [the config's Port, else 22] may be nil. Connect it with
  `session/connect`.

    (agent/get-session agent \"example.com\")
    (agent/get-session agent \"me\" \"example.com\" 2222)"
  ([agent host] (cleaner/register (pod-agent/get-session agent host nil nil)))
  ([agent username host] (cleaner/register (pod-agent/get-session agent host username nil)))
  ([agent username host port] (cleaner/register (pod-agent/get-session agent host username port))))

(defn get-identity-repository
  "The agent's identity repository: its own list unless one was set. The
  same repository always gives the same handle.

    (agent/get-identity-repository agent) ;; => :bbssh/identity-repository-2"
  [agent]
  (cleaner/register (pod-agent/get-identity-repository agent)))

(defn set-identity-repository
  "Sets the identity repository of the sessions the agent makes from now
  on (see `pod.epiccastle.bbssh.identity-repository`, `ssh-agent`); nil
  goes back to the agent's own.

    (agent/set-identity-repository agent (ssh-agent/new-identity-repository))"
  [agent identity-repository]
  (pod-agent/set-identity-repository agent identity-repository)
  nil)

(defn get-config-repository
  "The agent's config repository; nil means ~/.ssh/config (when it
  exists), as for `bbssh/ssh`.

    (agent/get-config-repository agent) ;; => nil"
  [agent]
  (cleaner/register (pod-agent/get-config-repository agent)))

(defn set-config-repository
  "Sets the config repository of the sessions the agent makes from now on
  (see `pod.epiccastle.bbssh.config-repository`); nil goes back to
  ~/.ssh/config.

    (agent/set-config-repository agent (config-repository/openssh-config-string \"Host db\\n  Port 2222\\n\"))"
  [agent config-repository]
  (pod-agent/set-config-repository agent config-repository)
  nil)

(defn get-host-key-repository
  "The agent's host key repository: ~/.ssh/known_hosts unless set. Use it
  with `pod.epiccastle.bbssh.host-key-repository`.

    (agent/get-host-key-repository agent) ;; => :bbssh/host-key-repository-3"
  [agent]
  (cleaner/register (pod-agent/get-host-key-repository agent)))

(defn set-host-key-repository
  "Sets the host key repository of the sessions the agent makes from now
  on.

    (agent/set-host-key-repository agent (known-hosts/new \"/tmp/known_hosts\"))"
  [agent host-key-repository]
  (pod-agent/set-host-key-repository agent host-key-repository)
  nil)

(defn set-known-hosts
  "Makes the known_hosts file `filename` (`~` expanded) the agent's host
  key repository.

    (agent/set-known-hosts agent \"~/.ssh/known_hosts\")"
  [agent filename]
  (pod-agent/set-known-hosts agent (str filename))
  nil)

(defn set-known-hosts-content
  "Makes known_hosts content (a string or bytes), held in the pod, the
  agent's host key repository.

    (agent/set-known-hosts-content agent (slurp \"known_hosts\"))"
  [agent content]
  (pod-agent/set-known-hosts-content agent (utils/encode-base64 (utils/->bytes content "UTF-8")))
  nil)

(defn- b64 [x] (when (some? x) (utils/encode-base64 (utils/->bytes x "UTF-8"))))

(defn add-identity
  "Adds an identity to the agent's identity repository:
  - `[agent private-key-file]`, its public key from the file + \".pub\"
    when there; an encrypted key asks for its passphrase when used
  - `[agent private-key-file passphrase]` decrypted now (a string or
    bytes; a wrong one throws `:bbssh/bad-key`)
  - `[agent identity passphrase]` an identity handle (see
    `pod.epiccastle.bbssh.identity`), passphrase bytes or nil
  - `[agent private-key-file public-key-file passphrase]`
  - `[agent name private-key public-key passphrase]` keys as strings or
    bytes (public key and passphrase may be nil)

    (agent/add-identity agent \"/home/me/.ssh/id_ed25519\")
    (agent/add-identity agent \"/home/me/.ssh/id_rsa\" \"passphrase\")
    (agent/add-identity agent \"inline\" (slurp \"id_ed25519\") nil nil)"
  ([agent private-key-file]
   (pod-agent/add-identity agent {:file (str private-key-file)})
   nil)
  ([agent file-or-identity passphrase]
   (pod-agent/add-identity agent (if (keyword? file-or-identity)
                                   {:identity file-or-identity :passphrase (b64 passphrase)}
                                   {:file (str file-or-identity) :passphrase (b64 passphrase)}))
   nil)
  ([agent private-key-file public-key-file passphrase]
   (pod-agent/add-identity agent {:file (str private-key-file) :pub-file (some-> public-key-file str)
                                  :passphrase (b64 passphrase)})
   nil)
  ([agent name private-key public-key passphrase]
   (pod-agent/add-identity agent {:name name :private-key (b64 private-key) :public-key (b64 public-key)
                                  :passphrase (b64 passphrase)})
   nil))

(defn remove-identity
  "Removes identities by name (as `get-identity-names` lists them), or an
  identity handle.

    (agent/remove-identity agent \"/home/me/.ssh/id_ed25519\")"
  [agent name-or-identity]
  (pod-agent/remove-identity agent name-or-identity)
  nil)

(defn get-identity-names
  "The names of the identities of the agent's repository: key files, the
  names given, an ssh-agent's comments.

    (agent/get-identity-names agent) ;; => [\"/home/me/.ssh/id_ed25519\"]"
  [agent]
  (pod-agent/get-identity-names agent))

(defn remove-all-identities
  "Removes every identity of the agent's repository.

    (agent/remove-all-identities agent)"
  [agent]
  (pod-agent/remove-all-identities agent)
  nil)

(defn get-config
  "A default setting of new sessions as a string, such as
  \"StrictHostKeyChecking\", \"kex\", \"cipher\" (the keys of
  `session/get-config`).

    (agent/get-config \"StrictHostKeyChecking\") ;; => \"ask\""
  [key]
  (pod-agent/get-config (if (keyword? key) (name key) key)))

(defn set-config
  "Sets default settings for the sessions made from now on (by `bbssh/ssh`
  and `get-session`), where they do not set them themselves: a map, or a
  key and a value (booleans become yes/no). Unlike bbssh 0.6's JSch
  globals, they live in this pod only.

    (agent/set-config \"StrictHostKeyChecking\" \"no\")
    (agent/set-config {\"cipher\" \"aes256-gcm@openssh.com\" \"kex\" \"curve25519-sha256\"})"
  ([settings]
   (utils/check-map "the settings of set-config" settings)
   (doseq [[k v] settings] (set-config k v))
   nil)
  ([key value]
   (pod-agent/set-config (if (keyword? key) (name key) key) value)
   nil))

(defn set-debug-fn
  "Calls `(debug-fn level message)` with each step of the sessions made
  from now on that have no `:debug-fn` of their own (level 0 debug, 1
  info, 2 warn, 3 error, as JSch); nil stops.

    (agent/set-debug-fn (fn [level message] (binding [*out* *err*] (println level message))))"
  [debug-fn]
  (if debug-fn
    (let [h (utils/debug-logger debug-fn)]
      (try (pod-agent/set-debug-fn h)
           (catch Exception e (registry/release h) (throw e))))
    (pod-agent/set-debug-fn nil))
  nil)
