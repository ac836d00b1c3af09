window.addEventListener("load", function () {
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.title = t.textContent; t.textContent = d.toLocaleString(); }
  });
  var done = document.createElement("div");
  done.id = "rendered";
  done.hidden = true;
  document.body.appendChild(done);
});
