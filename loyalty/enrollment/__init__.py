"""Customer enrolment: public sign-up pages reached by QR, their QR codes and
posters, and the web card a customer gets."""
