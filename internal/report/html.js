(function () {
  "use strict";
  // Copy buttons on the fix commands; without JavaScript the commands are
  // still plain selectable text.
  document.querySelectorAll("pre.code").forEach(function (pre) {
    var code = pre.querySelector("code");
    var b = document.createElement("button");
    b.type = "button";
    b.className = "copy";
    b.textContent = "Copy";
    b.addEventListener("click", function () {
      function selectIt() {
        var r = document.createRange();
        r.selectNodeContents(code);
        var s = window.getSelection();
        s.removeAllRanges();
        s.addRange(r);
        b.textContent = "Selected: press Ctrl+C";
      }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(code.textContent).then(function () { b.textContent = "Copied"; }, selectIt);
      } else {
        selectIt();
      }
    });
    // On the label line above the block, where it hides no command.
    var label = pre.previousElementSibling;
    if (label && label.classList.contains("k")) {
      label.appendChild(b);
    } else {
      pre.parentNode.insertBefore(b, pre);
    }
  });
  // Print everything, passing results included.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
})();
