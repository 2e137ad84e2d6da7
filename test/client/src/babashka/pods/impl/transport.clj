(ns babashka.pods.impl.transport
  "Starts a pod process and connects to it over stdio or a local socket,
  the way babashka does."
  {:no-doc true}
  (:require [clojure.java.io :as io]
            [clojure.string :as str])
  (:import (java.io BufferedInputStream BufferedOutputStream Closeable File
                    IOException PushbackInputStream)
           (java.lang ProcessBuilder$Redirect)
           (java.net InetAddress InetSocketAddress Socket)))

(set! *warn-on-reflection* true)

(def ^:dynamic *connect-timeout-ms*
  "How long to wait for a socket pod's port file and for its listener."
  30000)

(defn port-file
  "The file a socket pod with process id `pid` writes its port to: in the
  current working directory, as babashka expects."
  ^File [pid]
  (io/file (str ".babashka-pod-" pid ".port")))

(defn- poll
  "Calls `f` every 10 ms until it returns non-nil. Fails if the pod process
  exits or the deadline passes first; `what` says what is awaited."
  [^Process p deadline what f]
  (loop []
    (or (f)
        (cond
          (not (.isAlive p))
          (throw (ex-info (str "Pod process exited with code " (.exitValue p) " before " what)
                          {:type ::pod-exited :pid (.pid p) :exit (.exitValue p)}))
          (> (System/currentTimeMillis) deadline)
          (throw (ex-info (str "Timed out after " *connect-timeout-ms* " ms waiting for pod: " what)
                          {:type ::timeout :pid (.pid p)}))
          :else (do (Thread/sleep 10) (recur))))))

(defn- read-port
  "The port in `f` once its content ends with a newline, else nil."
  [^File f]
  (let [s (when (.exists f) (slurp f))]
    (when (and s (str/ends-with? s "\n"))
      (Integer/parseInt (str/trim s)))))

(defn- try-connect
  "A socket connected to `port` on one of localhost's addresses, or nil."
  [port]
  (some (fn [^InetAddress addr]
          (let [s (Socket.)]
            (try (.connect s (InetSocketAddress. addr (int port)) 1000)
                 (doto s (.setTcpNoDelay true))
                 (catch IOException _ (.close s) nil))))
        (InetAddress/getAllByName "localhost")))

(defn- start-process ^Process [cmd socket?]
  (let [pb (ProcessBuilder. ^java.util.List cmd)
        env (.environment pb)]
    (.put env "BABASHKA_POD" "true")
    (if socket?
      (do (.put env "BABASHKA_POD_TRANSPORT" "socket")
          (.inheritIO pb))
      (.redirectError pb ProcessBuilder$Redirect/INHERIT))
    (try (.start pb)
         (catch IOException e
           (throw (ex-info (str "Cannot start pod " (pr-str cmd) ": " (ex-message e))
                           {:type ::cannot-start :cmd cmd} e))))))

(defn start
  "Starts the pod command `cmd` (a vector of strings). With
  `{:transport :socket}` the pod shares this process's stdio and is reached
  over TCP; otherwise its stdin/stdout are pipes and stderr is inherited.
  Returns `{:process :socket :in :out}`: `:in` reads what the pod sends,
  `:out` writes to the pod."
  [cmd {:keys [transport]}]
  (let [socket? (= :socket (keyword transport))
        p (start-process cmd socket?)]
    (if-not socket?
      {:process p
       :in (PushbackInputStream. (BufferedInputStream. (.getInputStream p)))
       :out (BufferedOutputStream. (.getOutputStream p))}
      (try
        (let [deadline (+ (System/currentTimeMillis) *connect-timeout-ms*)
              f (port-file (.pid p))
              port (poll p deadline (str "writing its port file " f) #(read-port f))
              ^Socket s (poll p deadline (str "accepting a connection on port " port)
                              #(try-connect port))]
          {:process p
           :socket s
           :in (PushbackInputStream. (BufferedInputStream. (.getInputStream s)))
           :out (BufferedOutputStream. (.getOutputStream s))})
        (catch Throwable t
          (.destroyForcibly p)
          (throw t))))))

(defn close
  "Closes the connection to a pod (not the process)."
  [{:keys [socket out]}]
  (doseq [^Closeable c [out socket] :when c]
    (try (.close c) (catch IOException _ nil))))
