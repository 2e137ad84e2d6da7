(ns pod.epiccastle.bbssh.scp
  "Copying files with the scp protocol, as bbssh does. The copy itself runs
  in the pod, which reads and writes local files directly; only data given
  as a string, bytes or an InputStream travels through the pod protocol.

    (scp/scp-to [(io/file \"build.tar\")] \"releases/\" {:session s})
    (scp/scp-from \"logs\" \"/tmp/logs\" {:session s :recurse? true})"
  (:require [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.pod.scp :as pod-scp]))

(defn- shell-quote
  "Quotes s for a POSIX shell."
  [^String s]
  (str "'" (.replace s "'" "'\\''") "'"))

(defn- default-send-wrapper
  "bbssh's default for scp-to: run scp under umask 0000 so that the modes
  sent are the modes created."
  [command]
  (str "sh -c " (shell-quote (str "umask 0000; " command))))

(defn- pod-options
  "The options the pod reads."
  [options]
  (-> (select-keys options [:recurse? :preserve-times? :preserve-mode? :mode :dir-mode :buffer-size])
      (assoc :progress? (boolean (or (:progress-fn options) (:progress options))))))

(defn- format-bytes [n]
  (let [n (double n)]
    (cond
      (>= n 1073741824) (format "%.1f GiB" (/ n 1073741824))
      (>= n 1048576) (format "%.1f MiB" (/ n 1048576))
      (>= n 1024) (format "%.1f KiB" (/ n 1024))
      :else (format "%.0f B" n))))

(defn- draw-progress [ctx name now started offset size]
  (let [secs (max 1e-3 (/ (- now started) 1e9))
        rate (/ offset secs)
        eta (if (pos? rate) (/ (- size offset) rate) 0)]
    (binding [*out* *err*]
      (print (format "\r%-40s %10s / %-10s %10s/s  ETA %4.0fs"
                     (let [n (count name)] (if (> n 40) (str "..." (subs name (- n 37))) name))
                     (format-bytes offset) (format-bytes size) (format-bytes rate) (double eta)))
      (when (>= offset size) (println))
      (flush))
    (assoc ctx name started [:drawn name] now)))

(defn print-progress
  "A `:progress-fn` that draws a progress line on stderr for each file:
  name, bytes done of the total, rate and time left, redrawn at most ten
  times a second. `:progress true` uses it. Its context is a map of start
  and last-drawn times.

    (scp/scp-to [(io/file \"big.iso\")] \"isos/\" {:session s :progress-fn scp/print-progress})"
  [ctx {:keys [source dest offset size]}]
  (let [name (str (or dest source))
        now (System/nanoTime)
        ctx (or ctx {})
        started (get ctx name now)
        drawn (get ctx [:drawn name] 0)]
    (if (and (< offset size) (< (- now drawn) 100000000) (pos? drawn))
      ctx
      (draw-progress ctx name now started offset size))))

(defn- source->spec
  "Turns one scp-to source into what the pod reads, the InputStream to
  pump (if any), and the name progress events will carry."
  [source {:keys [mode]}]
  (cond
    (instance? java.io.File source)
    (let [path (.getAbsolutePath ^java.io.File source)]
      {:spec {:path path} :name path :origin source})

    (and (vector? source) (= 2 (count source)))
    (let [[data {:keys [filename size encoding] :as info}] source
          _ (when-not filename
              (throw (ex-info "scp data info must contain :filename"
                              {:type :pod.epiccastle.bbssh.scp/filename-error})))
          base (cond-> {:name filename :mode (or (:mode info) mode 0644)}
                 (and (:mtime info) (:atime info)) (assoc :mtime (:mtime info) :atime (:atime info)))]
      (cond
        (or (string? data) (bytes? data))
        {:spec (assoc base :data-base64 (utils/encode-base64 (utils/->bytes data (or encoding "utf-8"))))
         :name filename :origin data}

        (instance? java.io.InputStream data)
        (do (when-not size
              (throw (ex-info "scp data info for an InputStream must contain :size"
                              {:type :pod.epiccastle.bbssh.scp/filename-error})))
            (let [input (pod-scp/new-input)]
              {:spec (assoc base :input input :size size) :name filename :origin data
               :pump [data input]}))

        :else (throw (ex-info (str "scp data must be a string, bytes or an InputStream, got " (type data))
                              {:type :bbssh/bad-argument}))))

    :else (throw (ex-info (str "an scp source is a java.io.File or [data info], got " (pr-str source))
                          {:type :bbssh/bad-argument}))))

(defn- pump!
  "Copies an InputStream source into its pod input over a data channel,
  on a thread of its own; the pod sees the end of the source when the
  socket closes, and frees the input when the copy is over."
  [[^java.io.InputStream in input]]
  (future
    (try
      (let [sock (utils/data-channel (pod-scp/input-channel input))]
        (with-open [out (.getOutputStream sock)]
          (utils/copy-stream in #(.write out ^bytes %))))
      (catch Exception _
        ;; the copy failed or ended first: make sure nothing waits
        (try (pod-scp/input-close input) (catch Exception _ nil))))))

(defn scp-to
  "Copies local sources to `remote-path` (relative to the remote home
  directory) on `(:session options)`. Returns the final progress context.

  Sources are java.io.File files, directories (with `:recurse? true`), or
  `[data info]` pairs where data is a string (`:encoding` [\"utf-8\"]),
  bytes or an InputStream (then `:size` is required), and info has
  `:filename` (required), `:mode`, `:mtime` and `:atime` (epoch seconds).

  Options: `:recurse?` [false], `:preserve-times?` [true],
  `:preserve-mode?` [true: the local file's mode, else `:mode`], `:mode`
  [0644], `:dir-mode` [0755], `:buffer-size` [256 KiB],
  `:progress-fn (fn [ctx {:keys [source offset size]}] new-ctx)` called
  after each buffer and once for an empty file, `:progress-context` [nil],
  `:progress true` for a progress line on stderr, `:scp-command-fn` to
  change the remote command [runs scp under umask 0000].

    (scp-to [(io/file \"a.txt\") [\"hi\" {:filename \"b.txt\"}]] \"dir\"
            {:session s :recurse? true})"
  [local-sources remote-path {:keys [session progress-fn progress-context progress scp-command-fn]
                              :as options}]
  (utils/check-map "the options of scp-to" options)
  (when-not (sequential? local-sources)
    (throw (ex-info (str "scp-to sources must be a vector of java.io.File or [data info], got "
                         (utils/describe local-sources))
                    {:type :bbssh/bad-argument})))
  (let [specs (mapv #(source->spec % options) local-sources)
        origins (into {} (map (juxt :name #(hash-map :source (:origin %)))) specs)
        command ((or scp-command-fn default-send-wrapper)
                 (pod-scp/command :to remote-path (pod-options options)))
        pumps (doall (keep #(some-> (:pump %) pump!) specs))]
    (try
      (utils/invoke-with-progress 'pod.epiccastle.bbssh.pod.scp/send
                         [session command (mapv :spec specs) (pod-options options)]
                         (or progress-fn (when progress print-progress))
                         progress-context
                         #(get origins % {:source %}))
      (finally
        (doseq [p pumps] (deref p 10000 nil))))))

(defn scp-from
  "Copies `remote-path` (a file, or a directory with `:recurse? true`)
  from `(:session options)` to `local-file` (a path or java.io.File; when
  it is an existing directory the copy goes inside it). Returns the final
  progress context. Names the server sends that would land outside
  `local-file` (\"..\", \"a/b\") are refused.

  Options as `scp-to`; `:progress-fn` gets `{:dest File :offset :size}`
  and `:scp-command-fn` defaults to `identity`.

    (scp-from \"logs\" \"/tmp/logs\" {:session s :recurse? true})"
  [remote-path local-file {:keys [session progress-fn progress-context progress scp-command-fn]
                           :as options}]
  (utils/check-map "the options of scp-from" options)
  (let [command ((or scp-command-fn identity)
                 (pod-scp/command :from remote-path (pod-options options)))]
    (utils/invoke-with-progress 'pod.epiccastle.bbssh.pod.scp/receive
                       [session command (str local-file) (pod-options options)]
                       (or progress-fn (when progress print-progress))
                       progress-context
                       (fn [name] {:dest (java.io.File. ^String name)}))))
