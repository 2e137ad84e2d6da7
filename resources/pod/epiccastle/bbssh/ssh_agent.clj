(ns pod.epiccastle.bbssh.ssh-agent
  "Talks to your local ssh-agent over its unix socket (`SSH_AUTH_SOCK`, or
  a socket you name): its keys as an identity repository for an agent or a
  session.

    (agent/set-identity-repository agent (ssh-agent/new-identity-repository))
    (bbssh/ssh \"host\" {:identity-repository (ssh-agent/new-identity-repository \"/tmp/agent.sock\")})"
  (:require [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.pod.ssh-agent :as pod-agent]))

(defn new-identity-repository
  "An identity repository of the ssh-agent at `socket` [`SSH_AUTH_SOCK`,
  read when used]: its name is \"ssh-agent\", its status `:running`,
  `:not-running` (the socket does not answer) or `:unavailable` (no
  socket), and its identities are the agent's keys, which sign through the
  agent. Failures throw `:bbssh/agent-failed`.

    (ssh-agent/new-identity-repository)
    (ssh-agent/new-identity-repository \"/tmp/agent.sock\")"
  ([] (new-identity-repository nil))
  ([socket] (cleaner/register (pod-agent/new-identity-repository (some-> socket str)))))

(defn new-identity
  "An identity for the key `[blob comment]` (public key bytes and the
  agent's comment for it) that signs through the ssh-agent at `socket`
  [`SSH_AUTH_SOCK`].

    (ssh-agent/new-identity [blob \"me@laptop\"])"
  ([key-info] (new-identity key-info nil))
  ([[blob comment] socket]
   (cleaner/register
    (pod-agent/new-identity (some-> socket str) (utils/encode-base64 (utils/->bytes blob "UTF-8")) comment))))
