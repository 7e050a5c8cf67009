import factory

from merchants.models import Location, Membership, Merchant, User

PASSWORD = "correct-horse-battery"


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    country = "RU"
    currency = "RUB"
    time_zone = "Europe/Moscow"


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Location {n}")
    address = "Тверская ул., 1, Москва"
    latitude = "55.757600"
    longitude = "37.613700"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    merchant = factory.SubFactory(MerchantFactory)
    role = "owner"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _create(cls, model_class, *args, merchant=None, role="", **kwargs):
        # ``merchant`` and ``role`` make the person's membership (merchant=None: platform staff).
        user = super()._create(model_class, *args, **kwargs)
        if merchant is not None:
            Membership.objects.create(user=user, merchant=merchant, role=role or "owner")
        return user

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.Segment"

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Segment {n}")
    definition = factory.LazyFunction(
        lambda: {
            "match": "all",
            "groups": [{"match": "all", "conditions": [{"field": "balance", "op": "gte", "value": 1}]}],
        }
    )


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.Campaign"

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    body = "{first_name}, we miss you"
    channels = factory.LazyFunction(lambda: ["wallet", "email"])


def join(user: User, merchant: Merchant, role: str) -> Membership:
    """Put an existing login in another merchant's team (one login, several merchants)."""
    return Membership.objects.create(user=user, merchant=merchant, role=role)
