(ns pod.epiccastle.bbssh.known-hosts
  "known_hosts databases as host key repositories, without an agent (the
  namespace was empty in bbssh 0.6). Use them with the functions of
  `pod.epiccastle.bbssh.host-key-repository`, or pass one to `bbssh/ssh`
  as `:host-key-repository`.

    (def repo (known-hosts/new \"~/.ssh/known_hosts\"))
    (host-key-repository/get-host-key repo \"example.com\" nil)"
  (:require [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.pod.host-key-repository :as pod-repo]))

(defn- new* [file] (cleaner/register (pod-repo/known-hosts-file file)))

(defn new
  "The known_hosts file `file` [~/.ssh/known_hosts] as a host key
  repository. The file is read by each operation and written by each
  change; it need not exist yet.

    (known-hosts/new)
    (known-hosts/new \"/tmp/known_hosts\")"
  ([] (new* "~/.ssh/known_hosts"))
  ([file] (new* (str file))))

(defn from-content
  "known_hosts content (a string or bytes), held in the pod, as a host key
  repository.

    (known-hosts/from-content \"example.com ssh-ed25519 AAAAC3Nz...\\n\")"
  [content]
  (cleaner/register (pod-repo/known-hosts-content (utils/encode-base64 (utils/->bytes content "UTF-8")))))
