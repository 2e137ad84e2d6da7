(ns pod.epiccastle.bbssh.terminal
  "The terminal babashka runs in, through the pod (which shares it): its
  size, and raw mode for reading keys one at a time, e.g. a password
  without echo.

    (when (terminal/is-terminal?)
      (println \"width\" (terminal/get-width)))
    (print \"Password: \") (flush)
    (def pw (terminal/raw-mode-readline))"
  (:require [pod.epiccastle.bbssh.pod.terminal :as pod-terminal]))

(defn is-terminal?
  "True when standard output is a terminal.

    (terminal/is-terminal?) ;; => true"
  []
  (true? (pod-terminal/is-terminal?)))

(defn get-width
  "The terminal's width in characters; 0 when there is no terminal.

    (terminal/get-width) ;; => 120"
  []
  (pod-terminal/get-width))

(defn get-height
  "The terminal's height in lines; 0 when there is no terminal.

    (terminal/get-height) ;; => 40"
  []
  (pod-terminal/get-height))

(defn enter-raw-mode
  "Switches the terminal to raw mode: no echo, no line editing, Ctrl-C
  read as the byte 3 instead of ending the script. Returns true. Without a
  terminal it throws `:bbssh/no-terminal`, or returns false when `quiet`
  is non-zero (or true).

    (terminal/enter-raw-mode)"
  [& [quiet]]
  (true? (pod-terminal/enter-raw-mode (or quiet 0))))

(defn leave-raw-mode
  "Restores the terminal's mode from before `enter-raw-mode`; does nothing
  when it is not in raw mode.

    (terminal/leave-raw-mode)"
  [& [quiet]]
  (pod-terminal/leave-raw-mode (or quiet 0))
  nil)

(def ctrl-c
  "The byte Ctrl-C gives in raw mode."
  3)

(def carriage-return
  "The byte that ends a line for `raw-mode-readline` (babashka's `*in*`
  turns the Enter key's carriage return into it)."
  10)

(defn raw-mode-readline
  "Reads a line from `*in*` with the terminal in raw mode (so nothing is
  echoed): returns the text at Enter, nil at Ctrl-C or at the end of the
  input. Backspace deletes the last character. The terminal's mode is
  restored however it ends. Without a terminal it reads a plain line.

    (print \"Passphrase: \") (flush)
    (terminal/raw-mode-readline) ;; => \"secret\""
  []
  (enter-raw-mode 1)
  (try
    (loop [text (StringBuilder.)]
      (let [c (.read ^java.io.Reader *in*)]
        (cond
          (or (= c ctrl-c) (neg? c)) (when (and (neg? c) (pos? (.length text))) (str text))
          (or (= c carriage-return) (= c 13)) (str text)
          (or (= c 127) (= c 8)) (recur (if (pos? (.length text))
                                          (.deleteCharAt text (dec (.length text)))
                                          text))
          :else (recur (.append text (char c))))))
    (finally
      (leave-raw-mode 1))))
