(ns pod.epiccastle.bbssh.user-info
  "User-info: functions that answer the questions of a connection, such as
  a password or whether to trust an unknown host key. Pass one to
  `bbssh/ssh` as `:user-info`, or set it with `session/set-user-info`.

    (def ui (user-info/new {:get-password (fn [] (System/getenv \"PW\"))
                            :prompt-yes-no (fn [question] (println question) true)}))
    (bbssh/ssh \"host\" {:user-info ui})

  Without one, bbssh asks on the terminal when there is one, and fails
  with a clear error when there is not."
  (:require [babashka.pods :as pods]
            [pod.epiccastle.bbssh.pod.callbacks :as callbacks]))

(def ^:private known
  #{:get-password :get-passphrase :prompt-yes-no :prompt-password :prompt-passphrase :show-message})

(defn- answer
  "Runs callback f on its own thread (never on the pod reader's) and sends
  its result, or its error, back to the pod."
  [f id args]
  (future
    (try
      (callbacks/return-result id (apply f args))
      (catch Throwable e
        (try (callbacks/return-error id (str (or (ex-message e) (type e))))
             (catch Exception _ nil))))))

(defn new
  "Makes a user-info from a map of callbacks, all optional:
  - `:get-password (fn [])` the password, or nil
  - `:get-passphrase (fn [])` a key's passphrase, or nil
  - `:prompt-password (fn [message])` / `:prompt-passphrase (fn [message])`
    false to cancel, before the get- function is called
  - `:prompt-yes-no (fn [question])` truthy to answer yes (an unknown host
    key; a changed key is never asked about)
  - `:show-message (fn [message])` the server's banner

  Returns a handle such as `:bbssh/user-info-3`. A callback that throws
  fails the question (and so the connection) instead of hanging it. One
  that never returns is waited for as OpenSSH waits for a person: until
  the server gives up on the login (its LoginGraceTime), `:connect-timeout`
  passes, or the script releases the user-info
  (`pod.epiccastle.bbssh.pod.registry/release`); each fails the connection.

    (user-info/new {:get-password #(System/getenv \"SSH_PASSWORD\")
                    :prompt-yes-no (fn [question] (println question) false)})"
  [callbacks]
  (when-not (or (nil? callbacks) (map? callbacks))
    (throw (ex-info (str "user-info callbacks must be a map of keyword to function, got "
                         (if (string? callbacks) "a string" (type callbacks)))
                    {:type :bbssh/bad-option})))
  (when-let [unknown (seq (remove known (keys callbacks)))]
    (throw (ex-info (str "unknown user-info callbacks: " (pr-str unknown))
                    {:type :bbssh/bad-option :callbacks (vec unknown)})))
  (let [result (promise)]
    (pods/invoke "pod.epiccastle.bbssh"
                 'pod.epiccastle.bbssh.pod.user-info/new
                 [(vec (keys callbacks))]
                 {:handlers {:success (fn [{:keys [method id args] :as msg}]
                                        (if (contains? msg :result)
                                          (deliver result (:result msg))
                                          (answer (get callbacks method (fn [& _] nil)) id args)))
                             :error (fn [{:keys [ex-message ex-data]}]
                                      (deliver result (ex-info ex-message ex-data)))
                             :done (fn [] (deliver result nil))}})
    (let [r @result]
      (if (instance? Throwable r) (throw r) r))))
