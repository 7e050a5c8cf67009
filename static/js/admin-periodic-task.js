/* django-celery-beat's periodic task form in admin (templates/admin/djcelery/change_periodictask_form.html):
   under the crontab field, the chosen schedule in words. The package's own inline script, moved here. */
(function () {
  "use strict";
  var $ = django.jQuery;
  var readableCrontabs = JSON.parse($("#readable-crontabs").text());
  var originalCrontabHelp = document.getElementById("periodic-task-overrides").dataset.crontabHelp || "";
  function updateCrontabHelp(additional) {
    var help = $(".field-crontab .help");
    help.text(originalCrontabHelp);
    help.append($("<br>"), document.createTextNode("Translation: " + (additional === undefined ? "" : additional)));
  }
  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    updateCrontabHelp(readableCrontabs[$("#id_crontab").val()]);
  });
})();
